// Each rule of the rwk-safety pack, as the policy server runs it: a violating case and a passing one.
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as p from "./policies";
import { resource, stackViolationsOf, unknown, violationsOf } from "./harness";

const running = { "core-01": "running", "core-02": "running", "core-03": "running" };
const cluster = (facts: Record<string, unknown>) => ({
  members: ["core-01", "core-02", "core-03"],
  deployedMembers: ["core-01", "core-02", "core-03"],
  version: "3.6.16",
  deployedVersion: "3.6.16",
  learner: true,
  stopped: [],
  hostStates: running,
  ...facts,
});
const onCluster = (policy: Parameters<typeof violationsOf>[0], facts: Record<string, unknown>) =>
  violationsOf(policy, p.types.cluster, "etcd", cluster(facts));

describe("etcd-quorum-on-removal", () => {
  it("refuses removing a healthy member while another is down (the member-failure drill's refusal)", async () => {
    expect(
      await onCluster(p.etcdQuorumOnRemoval, {
        members: ["core-01", "core-03"],
        hostStates: { ...running, "core-01": "destroyed" },
      }),
    ).toEqual([
      "removing core-02 leaves 2 voting members with 1 healthy, below quorum 2 " +
        "(core-01's host is destroyed (hostStates.core-01)): bring them back first, or remove the members " +
        "that are down before the healthy ones",
    ]);
  });

  it("counts a member whose etcd is stopped as down", async () => {
    expect(
      await onCluster(p.etcdQuorumOnRemoval, { members: ["core-01", "core-02"], stopped: ["core-02"] }),
    ).toHaveLength(1);
  });

  it("allows removing the member that is down, and a change with every member healthy", async () => {
    const survivors = ["core-02", "core-03"];
    const lost = { ...running, "core-01": "destroyed" };
    expect(await onCluster(p.etcdQuorumOnRemoval, { members: survivors, hostStates: lost })).toEqual([]);
    expect(await onCluster(p.etcdQuorumOnRemoval, { members: ["core-01"] })).toEqual([]);
  });

  it("has nothing to compare on a stack whose last update recorded no members", async () => {
    expect(
      await onCluster(p.etcdQuorumOnRemoval, { deployedMembers: undefined, members: ["core-01"] }),
    ).toEqual([]);
  });
});

describe("etcd-membership-chain", () => {
  it("refuses several changes that reorder the members that stay", async () => {
    expect(
      await onCluster(p.etcdMembershipChain, {
        deployedMembers: ["core-01", "core-02"],
        members: ["core-03", "core-02", "core-04"],
        hostStates: { ...running, "core-04": "running" },
      }),
    ).toEqual([
      "3 membership changes (adds: core-03, core-04; removes: core-01) with the members " +
        "reordered: a member's place in etcdMembers chains its join and its leave, so running members would be " +
        "re-chained in the same update; keep the order of the members that stay and add new ones at the end: " +
        "[core-02, core-03, core-04]",
    ]);
  });

  it("refuses replacing every member at once, and several voters added without learners", async () => {
    const replaced = await onCluster(p.etcdMembershipChain, {
      deployedMembers: ["core-01"],
      members: ["core-02", "core-03"],
    });
    expect(replaced).toEqual([expect.stringContaining("replace every member at once")]);
    const voters = await onCluster(p.etcdMembershipChain, {
      deployedMembers: ["core-01"],
      learner: false,
    });
    expect(voters).toEqual([expect.stringContaining("with etcdLearner false")]);
  });

  it("allows growing 1 → 3 with learners, shrinking from the end, and swapping one member", async () => {
    expect(await onCluster(p.etcdMembershipChain, { deployedMembers: ["core-01"] })).toEqual([]);
    expect(await onCluster(p.etcdMembershipChain, { members: ["core-01"] })).toEqual([]);
    expect(
      await onCluster(p.etcdMembershipChain, {
        members: ["core-02", "core-03", "core-01"],
        deployedMembers: ["core-02", "core-03", "core-04"],
      }),
    ).toEqual([]);
  });
});

describe("etcd-minor-at-a-time", () => {
  it("refuses etcd skipping a minor or going back one", async () => {
    expect(await onCluster(p.etcdMinorAtATime, { deployedVersion: "3.4.30" })).toEqual([
      "etcd 3.4.30 → 3.6.16 skips a minor version (3.4 → 3.6): etcd moves one minor " +
        "at a time; set etcdVersion to a 3.5 release first",
    ]);
    expect(await onCluster(p.etcdMinorAtATime, { version: "3.5.35" })).toEqual([
      expect.stringContaining("goes back a minor version (3.6 → 3.5)"),
    ]);
  });

  it("allows the next minor, a patch either way, and a stack with nothing deployed", async () => {
    expect(await onCluster(p.etcdMinorAtATime, { deployedVersion: "3.5.35" })).toEqual([]);
    expect(await onCluster(p.etcdMinorAtATime, { deployedVersion: "3.6.20" })).toEqual([]);
    expect(await onCluster(p.etcdMinorAtATime, { deployedVersion: undefined })).toEqual([]);
  });
});

describe("etcd-force-new-cluster-only-in-restore", () => {
  const member = (facts: Record<string, unknown>) =>
    violationsOf(p.etcdForceNewClusterOnlyInRestore, p.types.member, "etcd-core-01", {
      name: "core-01",
      address: "172.17.8.101",
      forceNewCluster: false,
      ...facts,
    });

  it("refuses force-new-cluster without a classic restore", async () => {
    expect(await member({ forceNewCluster: true })).toEqual([
      "core-01 would start with ETCD_FORCE_NEW_CLUSTER in no restore: it makes " +
        "this member a cluster of one and splits it from the others; force-new-cluster belongs to the classic " +
        "restore only (restore: {from, method: classic})",
    ]);
    expect(await member({ forceNewCluster: true, restore: { method: "snapshot", id: "r" } })).toHaveLength(1);
  });

  it("allows it in a classic restore, and no flag at all", async () => {
    expect(await member({ forceNewCluster: true, restore: { method: "classic", id: "r" } })).toEqual([]);
    expect(await member({})).toEqual([]);
  });
});

describe("certificate-sans-cover-host", () => {
  const cert = (facts: Record<string, unknown>) =>
    violationsOf(p.certificateSansCoverHost, p.types.certificate, "etcd-pki-core-01-server", {
      commonName: "core-01",
      dnsNames: ["core-01", "localhost"],
      ipAddresses: ["172.17.8.101", "127.0.0.1"],
      usages: ["server", "client"],
      host: { name: "core-01", address: "172.17.8.101" },
      ...facts,
    });

  it("refuses a serving certificate that does not name its host's address", async () => {
    expect(await cert({ ipAddresses: ["127.0.0.1"] })).toEqual([
      "the serving certificate core-01 of core-01 lacks the IP " +
        "address 172.17.8.101 in its SANs (it has core-01, localhost, 127.0.0.1): clients that dial the host by " +
        "it refuse the certificate; add them to its dnsNames/ipAddresses",
    ]);
  });

  it("allows one that names the host, and a client certificate of no host", async () => {
    expect(await cert({})).toEqual([]);
    expect(await cert({ usages: ["client"], host: undefined, dnsNames: [], ipAddresses: [] })).toEqual([]);
  });
});

describe("certificate-not-expiring", () => {
  const hours = (h: number) => new Date(Date.now() + h * 3600 * 1000).toISOString();
  const cert = (validityEndTime: string, usages = ["server"]) =>
    resource(p.types.certificate, "kubernetes-pki-apiserver-core-01", {
      certPem: "CERT",
      validityEndTime,
      earlyRenewalHours: 720,
      usages,
    });

  it("refuses a serving certificate left inside its early-renewal window", async () => {
    const found = await stackViolationsOf(p.certificateNotExpiring, [cert(hours(100.5))]);
    expect(found).toEqual([
      {
        message: expect.stringMatching(
          /^the serving certificate expires in 100 h .*within its early-renewal window of 720 h.*raise pki.rotation/,
        ) as string,
        urn: "urn:pulumi:dev::real-world-kubernetes::rwk:pki:Certificate::kubernetes-pki-apiserver-core-01",
      },
    ]);
  });

  it("allows one far from its window, a client certificate, and one being issued (unknown in preview)", async () => {
    expect(
      await stackViolationsOf(p.certificateNotExpiring, [
        cert(hours(8000)),
        cert(hours(10), ["client"]),
        cert(unknown),
      ]),
    ).toEqual([]);
  });
});

describe("private-key-in-secret", () => {
  // Made at run time, as the stack makes its keys: the tree holds none.
  const key = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
    .privateKey.export({ type: "sec1", format: "pem" })
    .toString();

  it("refuses a private key in a command line, and in a component's args", async () => {
    expect(
      await violationsOf(p.privateKeyInSecret, "command:remote:Command", "etcd-core-01-files", {
        create: `echo '${key}' > /etc/etcd/key.pem`,
      }),
    ).toEqual([
      "a private key in create, outside a secret: it would show in " +
        "the engine's log and the stack's state; push it on the command's stdin (pushFiles) from a " +
        "pulumi.secret, never in a command line, triggers or a component's args",
    ]);
    expect(
      await violationsOf(p.privateKeyInSecret, p.types.certificate, "c", { commonName: "x", key }),
    ).toEqual([expect.stringContaining("a private key in key, outside a secret")]);
  });

  it("allows a key on stdin or in the environment, and a command line not known yet", async () => {
    expect(
      await violationsOf(p.privateKeyInSecret, "command:remote:Command", "etcd-core-01-files", {
        create: "bash -s",
        stdin: key,
        environment: { RWK_SSH_KEY: key },
        update: unknown,
      }),
    ).toEqual([]);
  });
});

describe("kubelet-not-newer-than-apiserver", () => {
  const stack = (kubelet: string) => [
    resource(p.types.controlPlane, "control-plane-core-01", { host: "core-01", version: "1.33.13" }),
    resource(p.types.controlPlane, "control-plane-core-02", { host: "core-02", version: "1.34.4" }),
    resource(p.types.kubelet, "kubelet-core-03", { host: "core-03", version: kubelet }),
  ];

  it("refuses a kubelet a minor newer than an API server", async () => {
    expect(await stackViolationsOf(p.kubeletNotNewerThanApiserver, stack("1.34.4"))).toEqual([
      {
        message:
          "the kubelet on core-03 runs 1.34.4, newer than the API server " +
          "on core-01 (1.33.13): a kubelet may never be newer than an API server; upgrade the control plane " +
          "first (kubernetesVersion rolls the control-plane hosts before the workers)",
        urn: "urn:pulumi:dev::real-world-kubernetes::rwk:kubernetes:Kubelet::kubelet-core-03",
      },
    ]);
  });

  it("allows a kubelet at or below every API server's minor, and one whose version is unknown", async () => {
    expect(await stackViolationsOf(p.kubeletNotNewerThanApiserver, stack("1.33.13"))).toEqual([]);
    expect(await stackViolationsOf(p.kubeletNotNewerThanApiserver, stack(unknown))).toEqual([]);
  });
});

/** A policy's violations of core-01's control plane: two hosts at 1.34.4 as last time, with these facts. */
const onControlPlane = (policy: Parameters<typeof violationsOf>[0], facts: Record<string, unknown>) =>
  violationsOf(policy, p.types.controlPlane, "control-plane-core-01", {
    host: "core-01",
    version: "1.34.4",
    deployedVersion: "1.34.4",
    controlPlane: ["core-01", "core-02"],
    deployedControlPlane: ["core-01", "core-02"],
    hostStates: running,
    etcdServers: [],
    ...facts,
  });
const controlPlane = (facts: Record<string, unknown>) => onControlPlane(p.kubernetesMinorAtATime, facts);

describe("kubernetes-minor-at-a-time", () => {
  it("refuses the API servers skipping a minor or going back one", async () => {
    expect(await controlPlane({ deployedVersion: "1.32.9" })).toEqual([
      "Kubernetes 1.32.9 → 1.34.4 skips a minor version " +
        "(1.32 → 1.34): Kubernetes moves one minor at a time; set kubernetesVersion to a 1.33 release first",
    ]);
    expect(await controlPlane({ version: "1.33.13" })).toEqual([
      expect.stringContaining("goes back a minor"),
    ]);
  });

  it("allows the next minor, and reports once per update (on the first control-plane host)", async () => {
    expect(await controlPlane({ deployedVersion: "1.33.13" })).toEqual([]);
    expect(await controlPlane({ deployedVersion: "1.32.9", host: "core-02" })).toEqual([]);
  });
});

describe("control-plane-change-with-host-down", () => {
  const change = (facts: Record<string, unknown>) => onControlPlane(p.controlPlaneChangeWithHostDown, facts);

  it("refuses a host joining the control plane while another of its hosts is stopped", async () => {
    expect(
      await change({
        controlPlane: ["core-01", "core-02", "core-03"],
        hostStates: { ...running, "core-02": "stopped" },
      }),
    ).toEqual([
      "a control-plane change (core-03 joining) while core-02 " +
        "is stopped (hostStates.core-02): the control plane changes one host at a time, each ready before the " +
        "next, and a host that is not running never is; bring it back first (hostStates: running), then make " +
        "the change in an update of its own",
    ]);
    expect(
      await change({ deployedVersion: "1.33.13", hostStates: { ...running, "core-02": "destroyed" } }),
    ).toEqual([expect.stringContaining("(1.33.13 → 1.34.4) while core-02 is destroyed")]);
  });

  it("allows a host stopped while the control plane does not change (the api-failover drill)", async () => {
    expect(await change({ hostStates: { ...running, "core-02": "stopped" } })).toEqual([]);
    expect(await change({ controlPlane: ["core-01"] })).toEqual([]);
  });
});

describe("apiserver-uses-every-etcd-member", () => {
  const member = (name: string, clientUrl: string) =>
    resource(p.types.member, `etcd-${name}`, { name, clientUrl, peerUrl: "" });
  const members = [
    member("core-01", "https://172.17.8.101:2379"),
    member("core-02", "https://172.17.8.102:2379"),
  ];
  const apiserver = (etcdServers: string[]) =>
    resource(p.types.controlPlane, "control-plane-core-01", {
      host: "core-01",
      version: "1.34.4",
      etcdServers,
    });

  it("refuses an API server that misses a member", async () => {
    const found = await stackViolationsOf(p.apiserverUsesEveryEtcdMember, [
      ...members,
      apiserver(["https://172.17.8.101:2379"]),
    ]);
    expect(found.map((f) => f.message)).toEqual([
      "the API server's --etcd-servers lacks " +
        "https://172.17.8.102:2379: it must name every member (https://172.17.8.101:2379, " +
        "https://172.17.8.102:2379) so that it survives the loss of any one; give it every member's client URL",
    ]);
  });

  it("allows an API server that names every member, and a preview where a URL is unknown", async () => {
    const all = ["https://172.17.8.102:2379", "https://172.17.8.101:2379"];
    expect(await stackViolationsOf(p.apiserverUsesEveryEtcdMember, [...members, apiserver(all)])).toEqual([]);
    expect(
      await stackViolationsOf(p.apiserverUsesEveryEtcdMember, [
        member("core-01", unknown),
        apiserver(["https://172.17.8.102:2379"]),
      ]),
    ).toEqual([]);
  });
});

describe("etcd-odd-member-count", () => {
  const stack = (names: string[]) => [
    resource(p.types.cluster, "etcd", cluster({})),
    ...names.map((n) => resource(p.types.member, `etcd-${n}`, { name: n, clientUrl: unknown })),
  ];

  it("warns of a pair, and of four members", async () => {
    expect(await stackViolationsOf(p.etcdOddMemberCount, stack(["core-01", "core-02"]))).toEqual([
      {
        message:
          "etcd has 2 members (core-01, core-02): quorum is 2 of 2, so this pair survives " +
          "no failure; add a third member (etcdMembers) before relying on it",
        urn: "urn:pulumi:dev::real-world-kubernetes::rwk:etcd:Cluster::etcd",
      },
    ]);
    expect(await stackViolationsOf(p.etcdOddMemberCount, stack(["a", "b", "c", "d"]))).toEqual([
      expect.objectContaining({
        message: expect.stringContaining("quorum is 3, so it tolerates 1 failure(s)") as string,
      }),
    ]);
  });

  it("passes one and three members, and a stack without etcd", async () => {
    expect(await stackViolationsOf(p.etcdOddMemberCount, stack(["core-01"]))).toEqual([]);
    expect(await stackViolationsOf(p.etcdOddMemberCount, stack(["core-01", "core-02", "core-03"]))).toEqual(
      [],
    );
    expect(await stackViolationsOf(p.etcdOddMemberCount, [])).toEqual([]);
  });
});

describe("recent-backup", () => {
  const hoursAgo = (h: number) => new Date(Date.now() - h * 3600 * 1000).toISOString();
  const stack = (...backups: string[]) => [
    resource(p.types.cluster, "etcd", cluster({})),
    resource(p.types.member, "etcd-core-01", { name: "core-01" }),
    ...backups.map((manifest, i) =>
      resource(p.types.backup, `etcd-backup-${i}`, { directory: "backups/dev/x", manifest }),
    ),
  ];
  const manifest = (takenAt: string) => JSON.stringify({ id: "b1", member: "core-01", takenAt });

  it("warns of a stack with no backup, and of one older than maxAgeHours", async () => {
    expect(await stackViolationsOf(p.recentBackup, stack())).toEqual([
      {
        message:
          "no etcd backup taken in the last 24 h (the stack holds none): a drill that " +
          "loses data would have nothing recent to restore from; set backup: {id: <a new id>, member} to take " +
          "one in this update",
        urn: "urn:pulumi:dev::real-world-kubernetes::rwk:etcd:Cluster::etcd",
      },
    ]);
    const old = await stackViolationsOf(p.recentBackup, stack(manifest(hoursAgo(30))));
    expect(old).toEqual([
      expect.objectContaining({
        message: expect.stringContaining("the newest, etcd-backup-0, was taken at") as string,
      }),
    ]);
  });

  it("passes a recent backup, one being taken (unknown in preview), an age within the config's, no etcd", async () => {
    expect(await stackViolationsOf(p.recentBackup, stack(manifest(hoursAgo(2))))).toEqual([]);
    expect(await stackViolationsOf(p.recentBackup, stack(unknown))).toEqual([]);
    expect(
      await stackViolationsOf(p.recentBackup, stack(manifest(hoursAgo(30))), { maxAgeHours: 48 }),
    ).toEqual([]);
    expect(await stackViolationsOf(p.recentBackup, [])).toEqual([]);
  });
});

describe("the pack", () => {
  it("has at least 12 policies, each named once, mandatory or advisory by default", () => {
    const names = p.policies.map((x) => x.name);
    expect(names.length).toBeGreaterThanOrEqual(12);
    expect(new Set(names).size).toBe(names.length);
    for (const x of p.policies) expect(["mandatory", "advisory"]).toContain(x.enforcementLevel);
  });

  it("is listed in policy-config.json, every rule at its default level", () => {
    const config = JSON.parse(
      fs.readFileSync(path.join(__dirname, "..", "policy-config.json"), "utf8"),
    ) as Record<string, string | { enforcementLevel: string }>;
    const levels = Object.fromEntries(
      Object.entries(config).map(([name, v]) => [name, typeof v === "string" ? v : v.enforcementLevel]),
    );
    expect(levels).toEqual(Object.fromEntries(p.policies.map((x) => [x.name, x.enforcementLevel])));
  });
});
