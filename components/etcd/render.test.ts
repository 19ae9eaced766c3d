import * as fs from "fs";
import * as path from "path";
import { hashFiles, renderInstallScript, restartHash } from "../host/files";
import { unitLibraryFile } from "../host/shell";
import { paths } from "./facts";
import {
  leaveCommands,
  memberFileList,
  memberFiles,
  renderBootstrapEnv,
  renderUnit,
  renderEnvFile,
  renderEtcdctlEnv,
  renderHelperScript,
  renderLeaveScript,
  renderMemberEnv,
} from "./render";
import type { EtcdTlsMode } from "../../config";

const core01 = { name: "core-01", address: "172.17.8.101" };
const script = fs.readFileSync(path.join(__dirname, "rwk-etcd.sh"), "utf8");
const library = fs.readFileSync(unitLibraryFile, "utf8");
const pki = { ca: "CA\n", serverCert: "SC\n", serverKey: "SK\n", peerCert: "PC\n", peerKey: "PK\n" };
const modes: EtcdTlsMode[] = ["off", "staged", "on"];
const timings = { heartbeatIntervalMs: 100, electionTimeoutMs: 1000 };
const version = "3.6.16";
/** One member's input with TLS on; a test changes what it is about. */
const input = {
  member: core01,
  version,
  clusterToken: "rwk-dev",
  timings,
  tls: "on" as const,
  script,
  library,
  pki,
};

describe("etcd renderers", () => {
  it.each(modes)("renders the member env file with tls %s, one sorted ETCD_ setting per line", (tls) => {
    expect(renderMemberEnv(core01, "rwk-dev", tls, timings)).toMatchSnapshot();
  });

  it("leaves no plaintext listener with tls on but metrics on loopback", () => {
    const env = renderMemberEnv(core01, "rwk-dev", "on", timings);
    const plain = env.split("\n").filter((l) => l.includes("http://"));
    expect(plain).toEqual(["ETCD_LISTEN_METRICS_URLS=http://127.0.0.1:2381"]);
    expect(env).toContain("ETCD_CLIENT_CERT_AUTH=true\n");
    expect(env).toContain("ETCD_PEER_CLIENT_CERT_AUTH=true\n");
  });

  it.each(modes)(
    "keeps INITIAL_ADVERTISE_PEER_URLS beside INITIAL_CLUSTER for the first start (tls %s)",
    (tls) => {
      const env = renderBootstrapEnv(core01, tls);
      const s = tls === "on" ? "https" : "http";
      expect(env).toContain(`ETCD_INITIAL_ADVERTISE_PEER_URLS=${s}://localhost:2380\n`);
      expect(env).toContain(`ETCD_INITIAL_CLUSTER=core-01=${s}://localhost:2380\n`);
      expect(env).toMatchSnapshot();
    },
  );

  it("renders the etcd-member unit of a release, run as etcd from our env files", () => {
    const unit = renderUnit(version);
    expect(unit).toMatchSnapshot();
    expect(unit).toContain("ExecStart=/opt/rwk/etcd-v3.6.16/etcd\n");
    expect(renderUnit("3.5.35")).toContain("ExecStart=/opt/rwk/etcd-v3.5.35/etcd\n");
  });

  it("gives etcdctl on the host the member's certificate once TLS is configured", () => {
    expect(renderEtcdctlEnv("off")).toBe("# etcdctl on this host (sourced by rwk-etcd)\n");
    expect(renderEtcdctlEnv("on")).toMatchSnapshot();
  });

  it("refuses values that would corrupt an env file", () => {
    expect(() => renderEnvFile("x", { ETCD_NAME: 'a"b' })).toThrow('cannot render ETCD_NAME="a\\"b"');
    expect(() => renderEnvFile("x", { "bad key": "v" })).toThrow("cannot render bad key");
  });

  it("puts the CA in the host's trust store and takes it out again", () => {
    const files = memberFiles(input);
    expect(renderInstallScript(files)).toContain("  update-ca-certificates --fresh >/dev/null 2>&1\n");
    expect(leaveCommands("core-01", "e", "on").leave).toMatch(
      /&& update-ca-certificates --fresh >\/dev\/null 2>&1$/,
    );
    expect(leaveCommands("core-01", "e", "off").leave).not.toContain("update-ca-certificates");
  });

  it("gathers one member's files in one map, keys 0600 and owned by etcd", () => {
    expect(memberFiles(input).map((f) => [f.path, f.mode, f.owner])).toEqual([
      ["/usr/local/sbin/rwk-etcd", "0755", "root:root"],
      ["/etc/etcd/rwk.env", "0644", "root:root"],
      ["/etc/etcd/rwk-bootstrap.env", "0644", "root:root"],
      ["/etc/etcd/etcdctl.env", "0644", "root:root"],
      ["/etc/systemd/system/etcd-member.service", "0644", "root:root"],
      ["/etc/etcd/pki/ca.crt", "0644", "root:root"],
      ["/usr/local/share/ca-certificates/rwk-etcd-ca.crt", "0644", "root:root"],
      ["/etc/etcd/pki/server.crt", "0644", "root:root"],
      ["/etc/etcd/pki/server.key", "0600", "etcd:etcd"],
      ["/etc/etcd/pki/peer.crt", "0644", "root:root"],
      ["/etc/etcd/pki/peer.key", "0600", "etcd:etcd"],
    ]);
    expect(memberFileList("off")).toHaveLength(5);
    expect(() => memberFiles({ ...input, tls: "staged", pki: undefined })).toThrow(
      "member core-01: etcdTls is staged but no certificates were given",
    );
  });

  it("hashes a file set independently of order, and changes with any byte", () => {
    const files = memberFiles({ ...input, tls: "off", pki: undefined });
    expect(hashFiles([...files].reverse())).toBe(hashFiles(files));
    expect(
      hashFiles(memberFiles({ ...input, clusterToken: "rwk-other", tls: "off", pki: undefined })),
    ).not.toBe(hashFiles(files));
  });

  it("restarts for a new CA or new settings, not for reissued certificates (etcd reloads those)", () => {
    const before = restartHash(memberFiles(input));
    expect(
      restartHash(memberFiles({ ...input, pki: { ...pki, serverCert: "SC2\n", serverKey: "SK2\n" } })),
    ).toBe(before);
    expect(restartHash(memberFiles({ ...input, pki: { ...pki, ca: "CA2\n" } }))).not.toBe(before);
    expect(restartHash(memberFiles({ ...input, tls: "staged", pki }))).not.toBe(before);
    expect(
      restartHash(
        memberFiles({ ...input, timings: { heartbeatIntervalMs: 50, electionTimeoutMs: 500 }, pki }),
      ),
    ).not.toBe(before);
  });

  it("pushes a new helper script without a restart: etcd never reads it", () => {
    expect(restartHash(memberFiles({ ...input, script: `${script}\n# a comment\n` }))).toBe(
      restartHash(memberFiles(input)),
    );
    const helper = memberFiles(input).find((f) => f.path === paths.script)!;
    expect(helper.onChange).toBe("none");
  });

  it("renders the helper with its facts from facts.ts in front of its body", () => {
    const helper = renderHelperScript(script, version, library);
    const lines = helper.split("\n");
    // The facts, then the shared library, then the body.
    expect(
      lines.slice(
        0,
        lines.findIndex((l) => l.startsWith("# Asking systemd")),
      ),
    ).toMatchSnapshot();
    expect(helper.indexOf("\nunit_ctl() {")).toBeLessThan(helper.indexOf("\n# rwk-etcd:"));
    expect(helper.startsWith("#!/bin/bash\n")).toBe(true);
    expect(helper).toContain(`readonly data_dir=${paths.dataDir}\n`);
    expect(helper).toContain("readonly client_port=2379\n");
  });

  it("leaves through the member's own host, else through the others, and says so", () => {
    expect(renderLeaveScript()).toMatchSnapshot();
  });
});
