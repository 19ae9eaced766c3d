import * as fs from "fs";
import * as path from "path";
import {
  hashFiles,
  memberFiles,
  renderBootstrapEnv,
  renderDropin,
  renderEnvFile,
  renderInstallScript,
  renderMemberEnv,
  renderRemoveScript,
} from "./render";

const core01 = { name: "core-01", address: "172.17.8.101" };
const script = fs.readFileSync(path.join(__dirname, "rwk-etcd.sh"), "utf8");

describe("etcd renderers", () => {
  it("renders the member env file, one sorted ETCD_ setting per line", () => {
    expect(renderMemberEnv(core01, "rwk-dev")).toMatchSnapshot();
  });

  it("keeps INITIAL_ADVERTISE_PEER_URLS beside INITIAL_CLUSTER for the first start", () => {
    const env = renderBootstrapEnv(core01);
    expect(env).toMatchSnapshot();
    expect(env).toContain("ETCD_INITIAL_ADVERTISE_PEER_URLS=http://localhost:2380\n");
    expect(env).toContain("ETCD_INITIAL_CLUSTER=core-01=http://localhost:2380\n");
  });

  it("renders the drop-in that points Debian's unit at the env files", () => {
    expect(renderDropin()).toMatchSnapshot();
  });

  it("refuses values that would corrupt an env file", () => {
    expect(() => renderEnvFile("x", { ETCD_NAME: 'a"b' })).toThrow('cannot render ETCD_NAME="a\\"b"');
    expect(() => renderEnvFile("x", { "bad key": "v" })).toThrow("cannot render bad key");
  });

  it("renders an install script that carries content base64-encoded and sets mode and owner", () => {
    const files = [
      { path: "/etc/etcd/b.env", mode: "0644" as const, owner: "root:root", content: "B=1\n" },
      { path: "/etc/etcd/a.key", mode: "0600" as const, owner: "etcd:etcd", content: "secret\n" },
    ];
    const out = renderInstallScript(files);
    expect(out).toMatchSnapshot();
    expect(out).not.toContain("secret");
    expect(out.indexOf("/etc/etcd/a.key")).toBeLessThan(out.indexOf("/etc/etcd/b.env"));
    expect(renderRemoveScript(files)).toBe("rm -f '/etc/etcd/a.key' '/etc/etcd/b.env'");
  });

  it("hashes a file set independently of order, and changes with any byte", () => {
    const files = memberFiles(core01, "rwk-dev", script);
    expect(hashFiles([...files].reverse())).toBe(hashFiles(files));
    expect(hashFiles(memberFiles(core01, "rwk-other", script))).not.toBe(hashFiles(files));
    expect(hashFiles(memberFiles({ ...core01, address: "172.17.8.111" }, "rwk-dev", script))).not.toBe(
      hashFiles(files),
    );
  });

  it("gathers one member's files in one map", () => {
    expect(memberFiles(core01, "rwk-dev", script).map((f) => [f.path, f.mode, f.owner])).toEqual([
      ["/usr/local/sbin/rwk-etcd", "0755", "root:root"],
      ["/etc/etcd/rwk.env", "0644", "root:root"],
      ["/etc/etcd/rwk-bootstrap.env", "0644", "root:root"],
      ["/etc/systemd/system/etcd.service.d/10-rwk.conf", "0644", "root:root"],
    ]);
  });
});
