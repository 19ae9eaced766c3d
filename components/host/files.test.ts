import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hashFiles, renderInstallScript, renderRemoveScript, restartHash } from "./files";
import type { HostFile } from "./files";

const me = execFileSync("id", ["-un"], { encoding: "utf8" }).trim();
const group = execFileSync("id", ["-gn"], { encoding: "utf8" }).trim();

describe("pushing files to a host", () => {
  const files = (dir: string, owner = `${me}:${group}`): HostFile[] => [
    {
      path: `${dir}/etc/b.env`,
      mode: "0644",
      owner,
      content: "B=1\n",
      onChange: "restart",
    },
    {
      path: `${dir}/etc/a.key`,
      mode: "0600",
      owner,
      content: "secret\n",
      onChange: "reload",
    },
  ];

  it("renders a script that carries content base64-encoded, sorted by path", () => {
    const out = renderInstallScript(files("/x", "root:root"), { restartMarker: "/run/x/restart-pending" });
    expect(out).toMatchSnapshot();
    expect(out).not.toContain("secret");
    expect(out.indexOf("/x/etc/a.key")).toBeLessThan(out.indexOf("/x/etc/b.env"));
  });

  it("writes changed files with their modes, leaves unchanged ones alone, and marks a due restart", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-files-test-"));
    const marker = path.join(dir, "state", "restart-pending");
    const install = (f: HostFile[]) =>
      execFileSync("bash", ["-s"], { input: renderInstallScript(f, { restartMarker: marker }) });
    install(files(dir));
    expect(fs.readFileSync(`${dir}/etc/a.key`, "utf8")).toBe("secret\n");
    expect((fs.statSync(`${dir}/etc/a.key`).mode & 0o777).toString(8)).toBe("600");
    expect(fs.existsSync(marker)).toBe(true);

    fs.rmSync(marker);
    const inode = fs.statSync(`${dir}/etc/b.env`).ino;
    install(files(dir));
    expect(fs.statSync(`${dir}/etc/b.env`).ino).toBe(inode);
    expect(fs.existsSync(marker)).toBe(false);

    // A reloaded file's change needs no restart; a restart file's does.
    install(files(dir).map((f) => ({ ...f, content: f.onChange === "reload" ? "new\n" : f.content })));
    expect(fs.existsSync(marker)).toBe(false);
    install(files(dir).map((f) => ({ ...f, content: `${f.content}X=2\n` })));
    expect(fs.existsSync(marker)).toBe(true);
    expect(fs.readdirSync(`${dir}/etc`).sort()).toEqual(["a.key", "b.env"]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("removes files and runs what follows their removal once", () => {
    expect(
      renderRemoveScript([
        { path: "/b", afterChange: "update-ca-certificates" },
        { path: "/a c" },
        { path: "/d", afterChange: "update-ca-certificates" },
      ]),
    ).toBe("rm -f '/a c' /b /d && update-ca-certificates");
  });

  it("hashes independently of order; only restart files count for a restart", () => {
    const f = files("/x");
    expect(hashFiles([...f].reverse())).toBe(hashFiles(f));
    expect(hashFiles(f.map((x) => ({ ...x, content: `${x.content}!` })))).not.toBe(hashFiles(f));
    const reloaded = f.map((x) => (x.onChange === "reload" ? { ...x, content: "other\n" } : x));
    expect(restartHash(reloaded)).toBe(restartHash(f));
  });
});
