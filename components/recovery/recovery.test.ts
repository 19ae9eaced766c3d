import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
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
  it("takes everything from the environment and checks what it pulled", () => {
    const script = renderPullScript();
    expect(script).toMatchSnapshot();
    expect(script).toContain('printf \'%s\\n\' "$RWK_SSH_KEY" >"$key"');
    expect(script).not.toMatch(/BEGIN .*PRIVATE KEY/);
  });
});
