import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { paths } from "../etcd/facts";
import { renderPullScript } from "./backup";
import { restoreFile, verifyBackup } from "./restore";

function backupDir(files: Record<string, string>, manifest?: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-backup-test-"));
  const sums: Record<string, string> = {};
  for (const [name, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), content);
    sums[name] = createHash("sha256").update(content).digest("hex");
  }
  fs.writeFileSync(
    path.join(dir, "manifest.json"),
    JSON.stringify(
      manifest ?? {
        id: "b1",
        member: "core-01",
        takenAt: "2026-11-25T12:00:00.000Z",
        stamp: "20261125T120000Z",
        ...sums,
      },
    ),
  );
  return dir;
}

describe("verifyBackup", () => {
  it("accepts a backup whose file matches its manifest", () => {
    const dir = backupDir({ "snapshot.db": "snap", "data-dir.tar.gz": "tar" });
    expect(verifyBackup(dir, "snapshot")).toMatchObject({ id: "b1", member: "core-01" });
    expect(verifyBackup(dir, "classic")).toMatchObject({ id: "b1" });
  });

  it("refuses a corrupted file, naming it and both checksums", () => {
    const dir = backupDir({ "snapshot.db": "snap", "data-dir.tar.gz": "tar" });
    fs.writeFileSync(path.join(dir, "snapshot.db"), "snaq");
    expect(() => verifyBackup(dir, "in-place")).toThrow(
      new RegExp(
        `restore.from: ${dir}/snapshot.db fails its integrity check \\(sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}\\); refusing to restore from it, nothing was changed`,
      ),
    );
  });

  it("refuses a directory that is not a backup, or lacks the method's file", () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-backup-test-"));
    expect(() => verifyBackup(empty, "snapshot")).toThrow(
      `restore.from: ${empty} is not a backup (no manifest.json)`,
    );
    const partial = backupDir({ "snapshot.db": "snap" });
    expect(() => verifyBackup(partial, "classic")).toThrow(
      `restore.from: ${partial} has no data-dir.tar.gz, which a classic restore needs`,
    );
  });

  it.each<[string, Record<string, unknown>]>([
    ["id", { id: "b1;touch x;#" }],
    ["stamp", { stamp: "$(touch y)" }],
    ["member", { member: "core 01" }],
  ])("refuses a manifest whose %s is not a plain name (it names things on the hosts)", (field, bad) => {
    const good = backupDir({ "snapshot.db": "snap" });
    const manifest = JSON.parse(fs.readFileSync(path.join(good, "manifest.json"), "utf8")) as object;
    const dir = backupDir({ "snapshot.db": "snap" }, { ...manifest, ...bad });
    expect(() => verifyBackup(dir, "snapshot")).toThrow(
      new RegExp(
        `^restore\\.from: ${dir}/manifest\\.json has ${field} .*; refusing to restore from it, nothing was changed$`,
      ),
    );
  });

  it("restores classic from the archive and everything else from the snapshot", () => {
    expect([restoreFile("classic"), restoreFile("snapshot"), restoreFile("in-place")]).toEqual([
      "data-dir.tar.gz",
      "snapshot.db",
      "snapshot.db",
    ]);
  });
});

describe("renderPullScript", () => {
  /**
   * Runs the pull script for real with a stand-in `ssh` on PATH that serves the "host" from a directory:
   * it runs the remote command line with the host's paths moved under that directory.
   */
  function pull(host: string, id: string): { code: number; out: string; dest: string } {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-pull-test-"));
    const bin = path.join(work, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(
      path.join(bin, "ssh"),
      `#!/bin/bash\nset -eu\neval "$(sed "s| /| $FAKE_HOST/|g" <<<"\${*: -1}")"\n`,
      { mode: 0o755 },
    );
    const dest = path.join(work, "backups");
    const r = spawnSync("bash", ["-c", renderPullScript()], {
      encoding: "utf8",
      env: {
        ...process.env,
        PATH: `${bin}:${process.env["PATH"] ?? ""}`,
        FAKE_HOST: host,
        RWK_SSH_KEY: "not a key: the stand-in ssh does not read it",
        RWK_SSH_TARGET: "root 127.0.0.1 2222",
        RWK_BACKUP_ID: id,
        RWK_BACKUP_DEST: dest,
      },
    });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, dest };
  }

  /** A host's backup directory under a fake root, as `rwk-etcd backup` leaves it. */
  function hostWithBackup(id: string, files: Record<string, string>): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-host-"));
    const dir = path.join(root, paths.backups, id);
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.renameSync(backupDir(files), dir);
    return root;
  }

  it("pulls the three files into <dest>/<member>-<stamp>, private, and prints that directory", () => {
    const host = hostWithBackup("b1", { "snapshot.db": "snap", "data-dir.tar.gz": "tar" });
    const { code, out, dest } = pull(host, "b1");
    expect(code).toBe(0);
    const dir = path.join(dest, "core-01-20261125T120000Z");
    expect(out.trim()).toBe(dir);
    expect(fs.readdirSync(dir).sort()).toEqual(["data-dir.tar.gz", "manifest.json", "snapshot.db"]);
    expect(fs.readFileSync(path.join(dir, "snapshot.db"), "utf8")).toBe("snap");
    expect((fs.statSync(path.join(dir, "snapshot.db")).mode & 0o077).toString(8)).toBe("0");
    expect(verifyBackup(dir, "snapshot")).toMatchObject({ id: "b1" });
  });

  it("refuses a file that does not match the host's manifest, and leaves nothing behind", () => {
    const host = hostWithBackup("b1", { "snapshot.db": "snap", "data-dir.tar.gz": "tar" });
    fs.writeFileSync(path.join(host, paths.backups, "b1", "snapshot.db"), "snaq");
    const { code, out, dest } = pull(host, "b1");
    expect(code).not.toBe(0);
    expect(out).toMatch(/pulled snapshot\.db does not match the host's manifest/);
    expect(fs.readdirSync(dest)).toEqual([]);
  });

  it("never has the key in its text: it comes from the environment", () => {
    expect(renderPullScript()).toContain('printf \'%s\\n\' "$RWK_SSH_KEY" >"$key"');
  });
});
