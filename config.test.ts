import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { ConfigError, configDefaults, labName, secretConfigDefaults, validateConfig } from "./config";
import type { KubernetesSpec, RawConfig } from "./config";

const ctx = { project: "real-world-kubernetes", stack: "dev" };
const hosts = [
  { name: "core-01", address: "172.17.8.101" },
  { name: "core-02", address: "172.17.8.102" },
  { name: "core-03", address: "172.17.8.103" },
];

/** The problems of a config; unset keys take the defaults, so one member on core-01 unless a case says otherwise. */
function problems(raw: RawConfig): string[] {
  try {
    validateConfig(raw, ctx);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe("validateConfig", () => {
  it("applies the defaults itself", () => {
    const c = validateConfig({}, ctx);
    expect(c.driver).toBe("machines");
    expect(c.lab).toBe("rwk-dev");
    expect(c.subnet).toEqual({
      cidr: "172.17.8.0/24",
      network: 0xac110800,
      prefix: 24,
      gateway: "172.17.8.1",
    });
    expect(c.hosts.map((h) => [h.name, h.address, h.state])).toEqual([
      ["core-01", "172.17.8.101", "running"],
      ["core-02", "172.17.8.102", "running"],
      ["core-03", "172.17.8.103", "running"],
    ]);
    expect(c.etcd).toEqual({
      version: "3.6.16",
      members: ["core-01"],
      learner: true,
      stopped: [],
      tls: "on",
      heartbeatIntervalMs: 100,
      electionTimeoutMs: 1000,
    });
    expect(c.kubernetes).toMatchObject({
      version: "1.34.4",
      controlPlane: [],
      workers: [],
      serviceCidr: { cidr: "10.3.0.0/24", prefix: 24 },
      podCidr: { cidr: "10.244.0.0/16", prefix: 16 },
      clusterDomain: "cluster.local",
      pauseReplicas: 1,
      webReplicas: 2,
      webMinAvailable: 1,
      tolerationSeconds: undefined,
    });
    expect(c.allowDataLoss).toBe(false);
    expect(c.pki).toMatchObject({
      keyAlgorithm: "ECDSA",
      ecdsaCurve: "P256",
      earlyRenewalHours: 720,
      rotation: 0,
    });
  });

  it("applies host states and accepts string booleans from the CLI", () => {
    const c = validateConfig(
      { hosts, hostStates: { "core-02": "stopped" }, etcdMembers: ["core-01"], etcdLearner: "false" },
      ctx,
    );
    expect(c.hosts[1]!.state).toBe("stopped");
    expect(c.etcd.learner).toBe(false);
  });

  describe("hosts", () => {
    it.each<[string, RawConfig, string[]]>([
      [
        "duplicate names",
        { hosts: [...hosts, { name: "core-01", address: "172.17.8.104" }] },
        ['real-world-kubernetes:hosts[3].name: duplicate host name "core-01" (also hosts[0])'],
      ],
      [
        "an address outside the subnet",
        { hosts: [{ name: "core-01", address: "10.0.0.5" }] },
        [
          "real-world-kubernetes:hosts[0].address: 10.0.0.5 is outside the lab subnet 172.17.8.0/24 (usable: 172.17.8.2 to 172.17.8.254)",
        ],
      ],
      [
        "the switch's own address",
        { hosts: [{ name: "core-01", address: "172.17.8.1" }] },
        [
          "real-world-kubernetes:hosts[0].address: 172.17.8.1 is outside the lab subnet 172.17.8.0/24 (usable: 172.17.8.2 to 172.17.8.254)",
        ],
      ],
      [
        "an unknown driver",
        { driver: "docker", hosts },
        ['real-world-kubernetes:driver: "docker" is not one of machines, vagrant, ssh'],
      ],
      [
        "an unknown state",
        { hosts, hostStates: { "core-01": "paused" } },
        ['real-world-kubernetes:hostStates.core-01: "paused" is not one of running, stopped, destroyed'],
      ],
      [
        "a state for a host that does not exist",
        { hosts, hostStates: { "core-09": "stopped" } },
        ['real-world-kubernetes:hostStates.core-09: no host named "core-09" in real-world-kubernetes:hosts'],
      ],
      [
        "the ssh driver asked to stop a host",
        { driver: "ssh", hosts, hostStates: { "core-02": "stopped" } },
        [
          'real-world-kubernetes:hostStates.core-02: the ssh driver cannot power hosts off or destroy them; only "running" is allowed',
        ],
      ],
      [
        "a bad subnet",
        { subnet: "172.17.8.5/24", hosts },
        ['real-world-kubernetes:subnet: "172.17.8.5/24" has host bits set; did you mean 172.17.8.0/24?'],
      ],
      [
        "a mistyped vagrant block",
        { hosts, vagrant: { box: "a b", provider: "hyperv", memory: 64, cpu: 2 } },
        [
          "real-world-kubernetes:vagrant: unknown key(s) cpu; allowed: box, provider, memory, cpus, libvirtDriver",
          'real-world-kubernetes:vagrant.box: "a b" is not a box name like "owner/name"',
          'real-world-kubernetes:vagrant.provider: "hyperv" is not one of libvirt, virtualbox',
          "real-world-kubernetes:vagrant.memory: 64 must be an integer number of MiB from 256 to 16384",
        ],
      ],
    ])("rejects %s, naming the key", (_what, raw, expected) => {
      expect(problems(raw)).toEqual(expected);
    });
  });

  describe("etcd", () => {
    it("rejects a member on an unknown host and a repeated member, naming the key", () => {
      expect(problems({ hosts, etcdMembers: ["core-01", "core-07", "core-01"] })).toEqual([
        'real-world-kubernetes:etcdMembers[1]: "core-07" is not a host in real-world-kubernetes:hosts (core-01, core-02, core-03)',
        'real-world-kubernetes:etcdMembers[2]: "core-01" is listed twice',
      ]);
    });

    it.each<[RawConfig, string[]]>([
      [{ etcdHeartbeatInterval: 50, etcdElectionTimeout: 500 }, []],
      [{ etcdHeartbeatInterval: 10, etcdElectionTimeout: 50 }, []],
      [{ etcdHeartbeatInterval: 10000, etcdElectionTimeout: 50000 }, []],
      [
        { etcdHeartbeatInterval: 200, etcdElectionTimeout: 500 },
        [
          "real-world-kubernetes:etcdElectionTimeout: 500 ms must be at least 5 times real-world-kubernetes:etcdHeartbeatInterval (200 ms), or followers start elections while the leader is fine",
        ],
      ],
      [
        { etcdHeartbeatInterval: 0, etcdElectionTimeout: 60000 },
        [
          "real-world-kubernetes:etcdHeartbeatInterval: 0 must be an integer number of ms from 10 to 10000",
          "real-world-kubernetes:etcdElectionTimeout: 60000 must be an integer number of ms from 50 to 50000",
        ],
      ],
      [
        { etcdHeartbeatInterval: "fast" },
        [
          'real-world-kubernetes:etcdHeartbeatInterval: "fast" must be an integer number of ms from 10 to 10000',
        ],
      ],
    ])("checks etcd's timings %j by etcd's own rules", (timings, expected) => {
      expect(problems({ hosts, ...timings })).toEqual(expected);
    });
  });

  it("stops a member's etcd by config, and names what it refuses", () => {
    expect(validateConfig({ hosts, etcdMemberStates: { "core-01": "stopped" } }, ctx).etcd.stopped).toEqual([
      "core-01",
    ]);
    expect(validateConfig({ hosts, etcdMemberStates: { "core-01": "running" } }, ctx).etcd.stopped).toEqual(
      [],
    );
    expect(problems({ hosts, etcdMemberStates: { "core-01": "paused", "core-02": "stopped" } })).toEqual([
      'real-world-kubernetes:etcdMemberStates.core-01: "paused" is not one of running, stopped',
      'real-world-kubernetes:etcdMemberStates.core-02: "core-02" is not in real-world-kubernetes:etcdMembers (core-01)',
    ]);
    expect(problems({ hosts, etcdMemberStates: ["core-01"] })).toEqual([
      "real-world-kubernetes:etcdMemberStates: must be an object of member host → running|stopped",
    ]);
  });

  it("refuses a version this project does not build, listing those it does", () => {
    expect(problems({ hosts, etcdVersion: "3.4.23", kubernetesVersion: "1.35.4" })).toEqual([
      'real-world-kubernetes:etcdVersion: "3.4.23" is not one of 3.6.16, 3.5.35',
      'real-world-kubernetes:kubernetesVersion: "1.35.4" is not one of 1.34.4, 1.33.13',
    ]);
    expect(validateConfig({ hosts, etcdVersion: "3.5.35" }, ctx).etcd.version).toBe("3.5.35");
  });

  describe("kubernetes roles", () => {
    it("writes a tuned toleration into the workloads, and leaves Kubernetes' own 300 s to the API server", () => {
      const tolerance = (workloadTolerationSeconds: unknown) =>
        validateConfig({ hosts, workloadTolerationSeconds }, ctx).kubernetes.tolerationSeconds;
      expect(tolerance(30)).toBe(30);
      expect(tolerance(0)).toBe(0);
      expect(tolerance(300)).toBeUndefined();
    });

    it.each<[string, RawConfig, Partial<KubernetesSpec>]>([
      [
        "control plane on core-01, workers core-02 and core-03",
        { controlPlane: ["core-01"], workers: ["core-02", "core-03"] },
        { controlPlane: ["core-01"], workers: ["core-02", "core-03"] },
      ],
      [
        "control plane on all three behind a virtual IP, one of them a worker too",
        {
          controlPlane: ["core-01", "core-02", "core-03"],
          workers: ["core-02"],
          apiVirtualIp: "172.17.8.100",
        },
        {
          controlPlane: ["core-01", "core-02", "core-03"],
          workers: ["core-02"],
          apiVirtualIp: "172.17.8.100",
        },
      ],
      [
        "tuned leader election",
        { controlPlane: ["core-01"], leaderElection: { leaseDuration: 4, renewDeadline: 3, retryPeriod: 1 } },
        {
          controlPlane: ["core-01"],
          workers: [],
          leaderElection: { leaseDuration: 4, renewDeadline: 3, retryPeriod: 1 },
        },
      ],
    ])("places %s", (_what, raw, expected) => {
      expect(validateConfig({ hosts, ...raw }, ctx).kubernetes).toMatchObject({
        version: "1.34.4",
        ...expected,
      });
    });

    it.each<[string, RawConfig, string[]]>([
      [
        "a control plane on an unknown host and a repeated one",
        { hosts, controlPlane: ["core-01", "core-09", "core-01"] },
        [
          'real-world-kubernetes:controlPlane[1]: "core-09" is not a host in real-world-kubernetes:hosts (core-01, core-02, core-03)',
          'real-world-kubernetes:controlPlane[2]: "core-01" is listed twice',
        ],
      ],
      [
        "workers given as one name",
        { hosts, workers: "core-02" },
        ["real-world-kubernetes:workers: must be a list of host names"],
      ],
      [
        "a worker that is not a name",
        { hosts, workers: ["core-02", 3] },
        ["real-world-kubernetes:workers: must be a list of host names"],
      ],
      [
        "both lists wrong at once",
        { hosts, controlPlane: { "core-01": true }, workers: ["core-02", "core-02"] },
        [
          "real-world-kubernetes:controlPlane: must be a list of host names",
          'real-world-kubernetes:workers[1]: "core-02" is listed twice',
          "real-world-kubernetes:workers: a worker's kubelet registers with the API server: real-world-kubernetes:controlPlane is empty",
        ],
      ],
      [
        "two control-plane hosts without a virtual IP",
        { hosts, controlPlane: ["core-01", "core-02"] },
        [
          "real-world-kubernetes:apiVirtualIp: 2 control-plane hosts need one stable address that moves between them: set real-world-kubernetes:apiVirtualIp to a free address of the lab subnet (e.g. 172.17.8.100)",
        ],
      ],
      [
        "a virtual IP outside the lab subnet",
        { hosts, controlPlane: ["core-01", "core-02"], apiVirtualIp: "10.0.0.1" },
        [
          "real-world-kubernetes:apiVirtualIp: 10.0.0.1 is outside the lab subnet 172.17.8.0/24 (usable: 172.17.8.2 to 172.17.8.254): keepalived moves it between hosts on one network",
        ],
      ],
      [
        "a virtual IP that is a host's address",
        { hosts, controlPlane: ["core-01", "core-02"], apiVirtualIp: "172.17.8.102" },
        [
          "real-world-kubernetes:apiVirtualIp: 172.17.8.102 is core-02's address; use a free address of the lab subnet",
        ],
      ],
      [
        "a virtual IP that is no address",
        { hosts, apiVirtualIp: "172.17.8.300" },
        ['real-world-kubernetes:apiVirtualIp: "172.17.8.300" is not an IPv4 address (e.g. 172.17.8.100)'],
      ],
      [
        "a virtual IP without a control plane",
        { hosts, apiVirtualIp: "172.17.8.100" },
        [
          "real-world-kubernetes:apiVirtualIp: a virtual IP for the API servers needs real-world-kubernetes:controlPlane; it is empty",
        ],
      ],
      [
        "lease timings that cannot work",
        { hosts, leaderElection: { leaseDuration: 10, renewDeadline: 10, retryPeriod: 9, jitter: 1 } },
        [
          "real-world-kubernetes:leaderElection: unknown key(s) jitter; allowed: leaseDuration, renewDeadline, retryPeriod",
          "real-world-kubernetes:leaderElection.renewDeadline: 10 s must be less than leaseDuration (10 s): a leader must give up before the others may take over",
          "real-world-kubernetes:leaderElection.retryPeriod: 9 s leaves the renew deadline (10 s) no room: it must be above 1.2 retry periods (client-go's rule)",
        ],
      ],
      [
        "lease timings that are not whole seconds",
        { hosts, leaderElection: { leaseDuration: 0.5, retryPeriod: "2" } },
        [
          "real-world-kubernetes:leaderElection.leaseDuration: 0.5 must be whole seconds from 1 to 300",
          'real-world-kubernetes:leaderElection.retryPeriod: "2" must be whole seconds from 1 to 300',
        ],
      ],
      [
        "workers without a control plane",
        { hosts, workers: ["core-03"] },
        [
          "real-world-kubernetes:workers: a worker's kubelet registers with the API server: real-world-kubernetes:controlPlane is empty",
        ],
      ],
      [
        "a worker the inventory no longer has",
        {
          hosts: [{ name: "node-a", address: "172.17.8.110" }],
          etcdMembers: ["node-a"],
          controlPlane: ["node-a"],
          workers: ["core-02"],
        },
        ['real-world-kubernetes:workers[0]: "core-02" is not a host in real-world-kubernetes:hosts (node-a)'],
      ],
      [
        "a service CIDR overlapping the lab subnet, a pod CIDR overlapping it too and not a /16",
        { hosts, controlPlane: ["core-01"], serviceCidr: "172.17.8.0/28", podCidr: "172.16.0.0/12" },
        [
          "real-world-kubernetes:podCidr: 172.16.0.0/12 must be a /16: each node takes the /24 numbered by the last byte of its address",
          "real-world-kubernetes:serviceCidr: 172.17.8.0/28 overlaps real-world-kubernetes:podCidr (172.16.0.0/12)",
          "real-world-kubernetes:serviceCidr: 172.17.8.0/28 overlaps the lab real-world-kubernetes:subnet (172.17.8.0/24)",
          "real-world-kubernetes:podCidr: 172.16.0.0/12 overlaps the lab real-world-kubernetes:subnet (172.17.8.0/24)",
        ],
      ],
      [
        "a service CIDR inside the pod CIDR",
        { hosts, serviceCidr: "10.244.3.0/24" },
        [
          "real-world-kubernetes:serviceCidr: 10.244.3.0/24 overlaps real-world-kubernetes:podCidr (10.244.0.0/16)",
        ],
      ],
      [
        "CIDRs that are not CIDRs, a bad domain and negative replicas",
        { hosts, serviceCidr: "10.3.0.0", podCidr: 7, clusterDomain: "Cluster_Local", pauseReplicas: -1 },
        [
          'real-world-kubernetes:serviceCidr: "10.3.0.0" is not an IPv4 CIDR with a prefix from /8 to /30 (e.g. 10.3.0.0/24)',
          "real-world-kubernetes:podCidr: 7 is not an IPv4 CIDR with a prefix from /8 to /30 (e.g. 10.244.0.0/16)",
          'real-world-kubernetes:clusterDomain: "Cluster_Local" is not a lower-case DNS domain (e.g. cluster.local)',
          "real-world-kubernetes:pauseReplicas: -1 must be an integer from 0 to 1000",
        ],
      ],
      [
        "a web budget no drain could satisfy, negative web replicas and a toleration out of range",
        { hosts, webReplicas: 2, webMinAvailable: 2, workloadTolerationSeconds: 7200 },
        [
          "real-world-kubernetes:webMinAvailable: 2 of real-world-kubernetes:webReplicas (2) leaves no pod a drain may evict: removing a worker would wait forever; use at most 1",
          "real-world-kubernetes:workloadTolerationSeconds: 7200 must be an integer from 0 to 3600",
        ],
      ],
      [
        "negative web replicas, and a worker not in the inventory",
        { hosts, controlPlane: ["core-01"], workers: ["core-09"], webReplicas: -1 },
        [
          'real-world-kubernetes:workers[0]: "core-09" is not a host in real-world-kubernetes:hosts (core-01, core-02, core-03)',
          "real-world-kubernetes:webReplicas: -1 must be an integer from 0 to 100",
        ],
      ],
      [
        "a control plane with no etcd member",
        { hosts, controlPlane: ["core-01"], etcdMembers: [], allowDataLoss: "dev" },
        [
          "real-world-kubernetes:controlPlane: a control plane needs etcd: real-world-kubernetes:etcdMembers is empty",
        ],
      ],
      [
        "a control plane over plaintext etcd",
        { hosts, controlPlane: ["core-01"], etcdTls: "staged" },
        [
          "real-world-kubernetes:controlPlane: the API server talks to etcd over mutual TLS only: set real-world-kubernetes:etcdTls to on (it is staged)",
        ],
      ],
    ])("rejects %s, naming the key", (_what, raw, expected) => {
      expect(problems(raw)).toEqual(expected);
    });
  });

  describe("recovery", () => {
    it.each([
      "b1;touch x;#",
      "backups/dev/b1$(touch y)",
      "backups/dev/b 1",
      "/var/backups/rwk/b1",
      "backups/../etc",
      "backups/dev/.hidden",
      "backups//b1",
      "",
    ])("refuses restore.from %j, which a shell on a host could read as more than a name", (from) => {
      expect(problems({ hosts, restore: { from, method: "snapshot" } })).toEqual([
        `real-world-kubernetes:restore.from: ${JSON.stringify(from)} must be a backup directory relative to the ` +
          'project root, such as backups/dev/core-01-20261125T120000Z: parts of letters, digits, ".", "_", "-", no ".."',
      ]);
    });

    it("accepts a pulled backup's directory as restore.from", () => {
      expect(
        problems({ hosts, restore: { from: "backups/dev/core-01-20261125T120000Z", method: "snapshot" } }),
      ).toEqual([]);
    });
  });

  describe("changes that lose etcd data for good", () => {
    const confirm = 'set real-world-kubernetes:allowDataLoss to "dev" (this stack\'s name) to do it anyway';
    const threeMembers = { hosts, etcdMembers: ["core-01", "core-02", "core-03"] };
    it.each<[string, RawConfig, string]>([
      [
        "an empty member set",
        { hosts, etcdMembers: [] },
        "real-world-kubernetes:etcdMembers: an empty member set ends the etcd cluster (its last member " +
          `leaves; its data directory is kept on its host, renamed); ${confirm}`,
      ],
      [
        "the last member's host destroyed",
        { hosts, hostStates: { "core-01": "destroyed" } },
        "real-world-kubernetes:hostStates: destroying core-01 deletes 1 of 1 etcd members' data, a " +
          `quorum: the cluster cannot recover without a restore; ${confirm}`,
      ],
      [
        "the hosts of two of three members destroyed",
        { ...threeMembers, hostStates: { "core-01": "destroyed", "core-03": "destroyed" } },
        "real-world-kubernetes:hostStates: destroying core-01, core-03 deletes 2 of 3 etcd members' data, a " +
          `quorum: the cluster cannot recover without a restore; ${confirm}`,
      ],
      [
        "an in-place restore",
        { ...threeMembers, restore: { from: "backups/dev/b1", method: "in-place" } },
        "real-world-kubernetes:restore.method: in-place replaces the running cluster's data with the " +
          "backup's, losing every write since it was taken (take a fresh backup first if you want to keep " +
          `them); ${confirm}`,
      ],
    ])("refuses %s unless allowDataLoss names the stack", (_what, raw, message) => {
      expect(problems(raw)).toEqual([message]);
      expect(problems({ ...raw, allowDataLoss: "dev" })).toEqual([]);
      expect(problems({ ...raw, allowDataLoss: "prod" })).toEqual([
        'real-world-kubernetes:allowDataLoss: "prod" must be empty or this stack\'s name ("dev")',
        message,
      ]);
    });

    it("lets a minority of members' hosts be destroyed, or any number stopped", () => {
      expect(problems({ ...threeMembers, hostStates: { "core-01": "destroyed" } })).toEqual([]);
      expect(
        problems({ ...threeMembers, hostStates: { "core-01": "stopped", "core-02": "stopped" } }),
      ).toEqual([]);
    });
  });

  it("reports every problem at once", () => {
    const found = problems({
      driver: "kvm",
      hosts: [{ name: "Core_01", address: "300.1.1.1", extra: 1 }],
      etcdLearner: "maybe",
    });
    expect(found).toHaveLength(6);
    expect(found.join("\n")).toMatch(/etcdMembers\[0\]: "core-01" is not a host/);
    expect(found.join("\n")).toMatch(/driver/);
    expect(found.join("\n")).toMatch(/hosts\[0\]\.name/);
    expect(found.join("\n")).toMatch(/hosts\[0\]\.address/);
    expect(found.join("\n")).toMatch(/unknown key\(s\) extra/);
    expect(found.join("\n")).toMatch(/etcdLearner/);
  });

  it("reads as a message that names the count", () => {
    expect(() => validateConfig({ driver: "kvm", hosts }, ctx)).toThrow(
      /invalid stack configuration \(1 problem\):\n {2}- /,
    );
  });
});

// The engine applies Pulumi.yaml's defaults and validateConfig applies the code's: they must be the same,
// or a stack would run differently under the engine than under test.
describe("Pulumi.yaml", () => {
  interface Declaration {
    type: string;
    items?: { type: string };
    default?: unknown;
  }
  const declared = (
    yaml.load(fs.readFileSync(path.join(__dirname, "Pulumi.yaml"), "utf8")) as {
      config: Record<string, Declaration>;
    }
  ).config;
  const code: Record<string, unknown> = { ...configDefaults, ...secretConfigDefaults };

  /** Pulumi's config type of a value. */
  function typeOf(value: unknown): string {
    if (Array.isArray(value)) return "array";
    if (Number.isInteger(value)) return "integer";
    return typeof value;
  }

  it("declares every key the code reads, and no other", () => {
    expect(Object.keys(declared).sort()).toEqual(Object.keys(code).sort());
  });

  it.each(Object.keys(code))("declares %s with the code's default and its type", (key) => {
    const declaration = declared[key];
    expect(declaration?.default).toEqual(code[key]);
    expect(declaration?.type).toBe(typeOf(code[key]));
    if (Array.isArray(code[key])) {
      expect(declaration?.items).toBeDefined();
      for (const item of code[key]) expect(declaration?.items?.type).toBe(typeOf(item));
    }
  });
});

describe("labName", () => {
  it.each([
    ["dev", "rwk-dev"],
    ["member-failure", "rwk-member-failure"],
  ])("keeps short plain stack names: %s", (stack, lab) => expect(labName(stack)).toBe(lab));

  it("shortens long or unusual names and keeps them distinct", () => {
    const a = labName("organization/Very_Long.Stack.Name-One");
    const b = labName("organization/Very_Long.Stack.Name-Two");
    expect(a).toMatch(/^rwk-[a-z0-9-]+$/);
    expect(a.length).toBeLessThanOrEqual(24);
    expect(a).not.toBe(b);
  });
});
