// The whole program under Pulumi mocks: which resources it registers, with which names and inputs.
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadProgram } from "./program-harness";
import type { Registered } from "./program-harness";

const root = path.join(__dirname, "..", "..");

// The program copies binaries built on the workstation: a cache of empty stand-ins for the releases the
// scenarios name, so the tests need no build.
const cache = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-program-test-cache-"));
for (const dir of ["etcd-v3.6.16", "etcd-v3.5.35"])
  fs.mkdirSync(path.join(cache, "kubernetes", dir), { recursive: true });
process.env["RWK_CACHE"] = cache;
afterAll(() => fs.rmSync(cache, { recursive: true, force: true }));

async function runProgram(overrides: Record<string, unknown> = {}, stack = "dev"): Promise<Registered[]> {
  return (await loadProgram(overrides, stack)).resources;
}

const byName = (rs: Registered[]) => new Map(rs.map((r) => [r.name, r]));
const address = (host: string) => `172.17.8.1${host.slice(-2)}`;

/** A pulled backup as `pulumi up` leaves it: files and a manifest with their checksums. */
function writeBackup(dir: string): void {
  const sums: Record<string, string> = {};
  for (const [f, content] of Object.entries({ "snapshot.db": "snap", "data-dir.tar.gz": "tar" })) {
    fs.writeFileSync(path.join(dir, f), content);
    sums[f] = createHash("sha256").update(content).digest("hex");
  }
  const manifest = {
    id: "b1",
    member: "core-01",
    takenAt: "2026-11-25T12:00:00.000Z",
    stamp: "20261125T120000Z",
  };
  fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ ...manifest, ...sums }));
}

describe("the program under mocks", () => {
  it("registers the lab, the etcd PKI and a one-member etcd for the default stack", async () => {
    const rs = await runProgram();
    expect(rs.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
      "command:local:Command etcd-core-01-leave",
      "command:remote:Command etcd-core-01-files",
      "command:remote:Command etcd-core-01-join",
      "command:remote:Command etcd-core-01-restart",
      "command:remote:CopyToRemote etcd-core-01-binaries",
      "pulumi-nodejs:dynamic/rwk:Machine lab-core-01-machine",
      "pulumi-nodejs:dynamic/rwk:Machine lab-core-02-machine",
      "pulumi-nodejs:dynamic/rwk:Machine lab-core-03-machine",
      "pulumi-nodejs:dynamic/rwk:Switch lab-switch",
      "pulumi:pulumi:StackReference deployed",
      "rwk:etcd:Cluster etcd",
      "rwk:etcd:Member etcd-core-01",
      "rwk:host:Host lab-core-01",
      "rwk:host:Host lab-core-02",
      "rwk:host:Host lab-core-03",
      "rwk:host:Lab lab",
      "rwk:pki:Certificate etcd-pki-apiserver",
      "rwk:pki:Certificate etcd-pki-core-01-peer",
      "rwk:pki:Certificate etcd-pki-core-01-server",
      "rwk:pki:Certificate etcd-pki-operator",
      "rwk:pki:CertificateAuthority etcd-pki-ca",
      "rwk:pki:EtcdPki etcd-pki",
      "tls:index/certRequest:CertRequest etcd-pki-apiserver-csr",
      "tls:index/certRequest:CertRequest etcd-pki-core-01-peer-csr",
      "tls:index/certRequest:CertRequest etcd-pki-core-01-server-csr",
      "tls:index/certRequest:CertRequest etcd-pki-operator-csr",
      "tls:index/locallySignedCert:LocallySignedCert etcd-pki-apiserver-cert",
      "tls:index/locallySignedCert:LocallySignedCert etcd-pki-core-01-peer-cert",
      "tls:index/locallySignedCert:LocallySignedCert etcd-pki-core-01-server-cert",
      "tls:index/locallySignedCert:LocallySignedCert etcd-pki-operator-cert",
      "tls:index/privateKey:PrivateKey etcd-pki-apiserver-key",
      "tls:index/privateKey:PrivateKey etcd-pki-ca-key",
      "tls:index/privateKey:PrivateKey etcd-pki-core-01-peer-key",
      "tls:index/privateKey:PrivateKey etcd-pki-core-01-server-key",
      "tls:index/privateKey:PrivateKey etcd-pki-operator-key",
      "tls:index/privateKey:PrivateKey lab-ssh-key",
      "tls:index/selfSignedCert:SelfSignedCert etcd-pki-ca-cert",
    ]);
    const rsByName = byName(rs);
    expect(rsByName.get("etcd-core-01-join")!.inputs["create"]).toBe(
      "/usr/local/sbin/rwk-etcd join --name core-01 --peer-url https://172.17.8.101:2380 " +
        "--endpoints https://172.17.8.102:2379,https://172.17.8.103:2379 --learner --bootstrap",
    );
    expect(rsByName.get("etcd-pki-core-01-server-csr")!.inputs).toMatchObject({
      dnsNames: ["core-01", "localhost"],
      ipAddresses: ["172.17.8.101", "127.0.0.1"],
    });
    expect(rsByName.get("etcd-pki-ca-cert")!.inputs).toMatchObject({ isCaCertificate: true });
    expect(rsByName.get("lab-core-02-machine")!.inputs).toMatchObject({
      lab: "rwk-dev",
      host: "core-02",
      address: "172.17.8.102",
      state: "running",
    });
  });

  it("registers no PKI for a plaintext cluster", async () => {
    const rs = await runProgram({ etcdTls: "off" });
    expect(
      rs.filter((r) => r.type.startsWith("tls:") || r.type.startsWith("rwk:pki")).map((r) => r.name),
    ).toEqual(["lab-ssh-key"]);
    expect(byName(rs).get("etcd-core-01-join")!.inputs["create"]).toContain(
      "--peer-url http://172.17.8.101:2380",
    );
  });

  it("grows 1 → 3 by adding two members and touching nothing of the first", async () => {
    const one = byName(await runProgram({ etcdMembers: ["core-01"] }));
    const three = byName(await runProgram({ etcdMembers: ["core-01", "core-02", "core-03"] }));
    for (const suffix of ["binaries", "files", "join", "restart", "leave"]) {
      // As the engine receives them (an archive's path is a promise until serialized).
      const inputs = (run: Map<string, Registered>) =>
        JSON.stringify(run.get(`etcd-core-01-${suffix}`)!.inputs);
      expect(inputs(three)).toBe(inputs(one));
    }
    const added = [...three.keys()].filter((n) => !one.has(n)).sort();
    expect(added.filter((n) => n.startsWith("etcd-core"))).toEqual([
      "etcd-core-02",
      "etcd-core-02-binaries",
      "etcd-core-02-files",
      "etcd-core-02-join",
      "etcd-core-02-leave",
      "etcd-core-02-restart",
      "etcd-core-03",
      "etcd-core-03-binaries",
      "etcd-core-03-files",
      "etcd-core-03-join",
      "etcd-core-03-leave",
      "etcd-core-03-restart",
    ]);
    // Each new member brings its own two certificates (4 resources each), nothing else changes.
    expect(added.filter((n) => n.startsWith("etcd-pki"))).toHaveLength(16);
    expect(three.get("etcd-core-03-join")!.inputs["create"]).not.toContain("--bootstrap");
  });

  it("lets a member leave from the workstation, through its own host or any other, never blocked by a dead host", async () => {
    const rs = byName(await runProgram({ etcdMembers: ["core-01", "core-02", "core-03"] }));
    // The host's own commands have nothing to undo over SSH: a host that is gone cannot block a removal.
    for (const suffix of ["files", "join", "restart"]) {
      expect(rs.get(`etcd-core-02-${suffix}`)!.inputs["delete"]).toBeUndefined();
    }
    const leave = rs.get("etcd-core-02-leave")!.inputs;
    expect(leave["create"]).toBe("true");
    expect(leave["delete"]).toContain('remote "$user" "$host" "$port" "$RWK_EVICT"');
    // The key makes the whole environment a secret (kept encrypted in the state).
    const env = (leave["environment"] as { value: Record<string, string> }).value;
    expect(env["RWK_MEMBER"]).toBe("core-02");
    expect(env["RWK_SELF"]).toBe("root 127.0.0.1 2222");
    expect(env["RWK_OTHERS"]).toBe("root 127.0.0.1 2222\nroot 127.0.0.1 2222");
    const endpoints = "https://172.17.8.101:2379,https://172.17.8.103:2379";
    expect(env["RWK_LEAVE"]).toMatch(
      new RegExp(`^/usr/local/sbin/rwk-etcd leave --name core-02 --endpoints ${endpoints} && rm -f `),
    );
    expect(env["RWK_EVICT"]).toBe(`/usr/local/sbin/rwk-etcd evict --name core-02 --endpoints ${endpoints}`);
  });

  it("exports only the outputs that apply: no undefined backup or TLS outputs", async () => {
    const plain = await loadProgram({ etcdTls: "off" });
    expect(Object.keys(plain.outputs).sort()).toEqual([
      "deployed",
      "driver",
      "etcdEndpoints",
      "etcdMembers",
      "etcdTls",
      "hosts",
      "labName",
      "sshPrivateKey",
      "sshPublicKey",
    ]);
    const full = await loadProgram({ backup: { id: "b1" } });
    for (const key of [
      "etcdCaCert",
      "etcdOperatorCert",
      "etcdOperatorKey",
      "backupDirectory",
      "backupManifest",
    ])
      expect(full.outputs[key]).toBeDefined();
  });

  it("keeps a destroyed host in the program as a tombstone with the same name and address", async () => {
    const running = byName(await runProgram({ etcdMembers: ["core-02"] }));
    const destroyed = byName(
      await runProgram({ etcdMembers: ["core-02"], hostStates: { "core-01": "destroyed" } }),
    );
    const { state, ...tombstone } = destroyed.get("lab-core-01-machine")!.inputs;
    const { state: wasState, ...alive } = running.get("lab-core-01-machine")!.inputs;
    expect([wasState, state]).toEqual(["running", "destroyed"]);
    expect(tombstone).toEqual(alive);
  });

  it("gives two stacks different labs, down to every host", async () => {
    const labs = async (stack: string) =>
      (await runProgram({}, stack))
        .filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/rwk:"))
        .map((r) => r.inputs["lab"]);
    expect(await labs("dev")).toEqual(["rwk-dev", "rwk-dev", "rwk-dev", "rwk-dev"]);
    expect(await labs("member-failure")).toEqual(Array(4).fill("rwk-member-failure"));
  });

  it("refuses bad config before registering anything", async () => {
    const registered: Registered[] = [];
    await expect(loadProgram({ driver: "docker" }, "dev", registered)).rejects.toThrow(
      /driver: "docker" is not one of machines, vagrant, ssh/,
    );
    expect(registered).toEqual([]);
  });

  it("reads what the last update deployed and refuses a version change it forbids, registering nothing more", async () => {
    const registered: Registered[] = [];
    await expect(
      loadProgram({ etcdVersion: "3.5.35" }, "dev", registered, { deployed: { etcdVersion: "3.6.16" } }),
    ).rejects.toThrow(/etcdVersion: 3\.6\.16 → 3\.5\.35 goes back a minor version/);
    expect(registered.map((r) => `${r.type} ${r.name}`)).toEqual(["pulumi:pulumi:StackReference deployed"]);
    expect(registered[0]!.inputs).toMatchObject({ name: "organization/real-world-kubernetes/dev" });
  });

  it("records what it deploys for the next update's guard", async () => {
    const { outputs } = await loadProgram({ etcdVersion: "3.6.16" }, "dev", [], {
      deployed: { etcdVersion: "3.5.35" },
    });
    // Known once every member runs it: an Output of the members' readiness.
    const deployed = await new Promise((resolve) =>
      (outputs["deployed"] as { apply: (f: (v: unknown) => void) => void }).apply(resolve),
    );
    expect(deployed).toEqual({ etcdVersion: "3.6.16", etcdMembers: ["core-01"] });
  });

  it("takes a backup on the chosen member after it is ready, then pulls it with the stack's key", async () => {
    const rs = byName(
      await runProgram({ etcdMembers: ["core-01", "core-02"], backup: { id: "b1", member: "core-02" } }),
    );
    const take = rs.get("etcd-backup-take")!.inputs;
    expect(take["create"]).toBe("/usr/local/sbin/rwk-etcd backup --id b1");
    expect(take["delete"]).toBe("rm -rf /var/backups/rwk/b1");
    expect(take["triggers"]).toEqual(["b1"]);
    const pull = rs.get("etcd-backup-pull")!.inputs;
    const env = (pull["environment"] as { value: Record<string, string> }).value;
    expect(env).toMatchObject({
      RWK_BACKUP_ID: "b1",
      RWK_BACKUP_DEST: "backups/dev",
      RWK_SSH_KEY: "PRIVATE",
    });
  });

  it("restores in place: every member prepared from the same backup, then started, all with one token", async () => {
    fs.mkdirSync(path.join(root, "backups"), { recursive: true });
    const dir = fs.mkdtempSync(path.join(root, "backups", "program-test-"));
    try {
      writeBackup(dir);
      const rs = byName(
        await runProgram({
          etcdMembers: ["core-01", "core-02", "core-03"],
          restore: { from: path.relative(root, dir), method: "in-place" },
          allowDataLoss: "dev",
        }),
      );
      const token = "restore-b1-20261125t120000z";
      for (const m of ["core-01", "core-02", "core-03"]) {
        expect(rs.get(`etcd-restore-${m}-prepare`)!.inputs["create"]).toBe(
          `/usr/local/sbin/rwk-etcd restore-prepare --name ${m} --peer-url https://${address(m)}:2380 ` +
            `--from /var/lib/rwk-restore/${path.basename(dir)} --initial-cluster ` +
            "core-01=https://172.17.8.101:2380,core-02=https://172.17.8.102:2380,core-03=https://172.17.8.103:2380 " +
            `--cluster-token ${token}`,
        );
        expect(rs.get(`etcd-restore-${m}-start`)!.inputs["create"]).toBe(
          `/usr/local/sbin/rwk-etcd restore-start --cluster-token ${token}`,
        );
      }
      // The first member does not also restore at join: in place is InPlaceRestore's alone.
      expect(rs.get("etcd-core-01-join")!.inputs["create"]).not.toContain("--restore");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
