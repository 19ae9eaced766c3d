import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { callsOf, cutOff, systemctlStub } from "../../test/unit/systemctl-stub";
import { unitLibraryFile } from "./shell";

const library = fs.readFileSync(unitLibraryFile, "utf8");
/**
 * Runs `commands` after the library with a systemctl that answers from `replies` (systemctlStub), the
 * bound cut to `bound` seconds (a case that must give up: 2; one that must not: 60, which it never waits
 * out, whatever the machine's load). Returns what the helper printed and every call systemctl got.
 */
function run(
  commands: string,
  replies: string[],
  bound = 60,
): { status: number | null; out: string; calls: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-unit-"));
  try {
    const stub = systemctlStub(dir, replies);
    const r = spawnSync(
      "bash",
      [
        "-euo",
        "pipefail",
        "-c",
        `log() { echo "$*"; }\n${library}\nunit_bound=${bound}\n${stub}\n${commands}`,
      ],
      // stdin from /dev/null: bash with a socket for stdin reads /etc/bash.bashrc (see runtime's test).
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    return { status: r.status, out: r.stdout + r.stderr, calls: callsOf(dir) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("the shared systemd calls (rwk-unit.sh)", () => {
  it("asks again when a query is cut off, rather than reading it as stopped", () => {
    const r = run('unit_active etcd-member.service && echo running || echo "not running"', ["cut", "active"]);
    expect(r.out).toBe("running\n");
    expect(r.calls).toEqual(Array(2).fill("show --property ActiveState --value etcd-member.service"));
  });

  it("reads a unit systemd says is not active as not running", () => {
    for (const state of ["inactive", "failed", "activating"]) {
      expect(run('unit_active x.service || echo "not running"', [state]).out).toBe("not running\n");
    }
  });

  it("ends the helper, saying what it asked, when systemd never answers within the bound", () => {
    const r = run("unit_active x.service; echo unreachable", ["cut"], 2);
    expect(r.status).toBe(1);
    expect(r.out).toContain(`systemd did not tell x.service's ActiveState within 2s: Failed: ${cutOff}`);
    expect(r.out).not.toContain("unreachable");
  });

  it("repeats a systemctl command cut off until it succeeds", () => {
    const r = run("unit_ctl daemon-reload && echo done", ["cut", "cut", "ok"]);
    expect(r.out).toBe("done\n");
    expect(r.calls).toEqual(["daemon-reload", "daemon-reload", "daemon-reload"]);
  });

  it("halts a unit only once systemd says it is stopped", () => {
    // stop cut off, state still active; stop again, deactivating; stop again, inactive.
    const r = run("unit_halt etcd-member.service && echo halted", [
      "cut",
      "active",
      "ok",
      "deactivating",
      "ok",
      "inactive",
    ]);
    expect(r.out).toBe("halted\n");
    expect(r.calls.filter((c) => c.startsWith("stop"))).toHaveLength(3);
  });

  it("ends the helper when a unit does not stop within the bound", () => {
    const r = run("unit_halt x.service; echo unreachable", ["ok", "active"], 2);
    expect(r.status).toBe(1);
    expect(r.out).toContain("x.service did not stop within 2s (systemd says active)");
  });

  it("retires a unit: disabled, then halted; one that is not there is not disabled", () => {
    const loaded = run("unit_retire kubelet.service && echo retired", ["loaded", "ok", "ok", "inactive"]);
    expect(loaded.out).toBe("retired\n");
    expect(loaded.calls).toEqual([
      "show --property LoadState --value kubelet.service",
      "disable --quiet kubelet.service",
      "stop kubelet.service",
      "show --property ActiveState --value kubelet.service",
    ]);
    const absent = run("unit_retire kubelet.service && echo retired", ["not-found", "ok", "inactive"]);
    expect(absent.out).toBe("retired\n");
    expect(absent.calls.some((c) => c.startsWith("disable"))).toBe(false);
  });
});
