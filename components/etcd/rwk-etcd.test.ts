import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { callsOf, systemctlStub } from "../../test/unit/systemctl-stub";
import { unitLibraryFile } from "../host/shell";
import { renderHelperScript } from "./render";

const script = fs.readFileSync(path.join(__dirname, "rwk-etcd.sh"), "utf8");
const library = fs.readFileSync(unitLibraryFile, "utf8");

/**
 * The helper as pushed, its state files and etcd's binaries moved into `dir` (no etcd there: etcdctl
 * fails, as with no local member), run with `args` and a stubbed systemctl (systemctlStub).
 */
function runHelper(dir: string, args: string[], replies: string[]) {
  const helper = renderHelperScript(script, "3.6.16", library)
    .replace(/^readonly etcd_bin=.*$/m, `readonly etcd_bin=${dir}/bin`)
    .replace(/^readonly restart_pending=.*$/m, `readonly restart_pending=${dir}/restart-pending`)
    .replace(/^readonly applied_config=.*$/m, `readonly applied_config=${dir}/applied/config`);
  const [shebang, ...body] = helper.split("\n");
  const withStub = [shebang, systemctlStub(dir, replies), ...body].join("\n");
  return spawnSync("bash", ["-c", withStub, "rwk-etcd", ...args], {
    encoding: "utf8",
    // stdin from /dev/null: bash with a socket for stdin reads /etc/bash.bashrc (see runtime's test).
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RWK_ETCD_WAIT: "3" },
  });
}

describe("rwk-etcd restart", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-etcd-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("does not restart a member that runs its configuration when systemd's answer is cut off once", () => {
    // CI: systemd re-executed on core-01 (containerd's first start) under the state query, which was read
    // as "etcd is not running"; the guard then refused the restart, failing the update.
    const r = runHelper(dir, ["restart", "--name", "core-01", "--config", "abc"], ["cut", "active"]);
    expect(r.stderr).toBe("rwk-etcd: core-01 already runs its configuration (abc); no restart\n");
    expect(r.status).toBe(0);
    expect(callsOf(dir).filter((c) => !c.startsWith("show"))).toEqual([]);
    expect(fs.readFileSync(path.join(dir, "applied/config"), "utf8")).toBe("abc\n");
  });

  it("restarts the member when a file it reads at start changed", () => {
    fs.writeFileSync(path.join(dir, "restart-pending"), "");
    const r = runHelper(dir, ["restart", "--name", "core-01", "--config", "abc"], ["ok"]);
    // No etcd answers here after the restart: the helper waits its bound and says for what.
    expect(r.status).toBe(1);
    expect(callsOf(dir)).toContain("restart --no-block etcd-member.service");
    expect(r.stderr).toContain("local etcd did not reach a leader within 3s");
    expect(fs.existsSync(path.join(dir, "restart-pending"))).toBe(false);
  });
});
