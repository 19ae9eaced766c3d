// Where Kubernetes runs and the cluster's own networks. Roles are config, like etcdMembers, so "control
// plane on core-01, workers on core-02 and core-03" and later "control plane on all three" are steps a
// stack takes one update at a time.
import { formatIPv4, overlaps, parseCidr, parseHostNames, parseIPv4 } from "./hosts";
import type { HostSpec, Subnet } from "./hosts";
import type { EtcdSpec } from "./etcd";
import type { Problems, RawOf } from "./problems";
import { cluster } from "../versions.json";

/** The Kubernetes versions this project builds (versions.json, the first is the default). */
export const kubernetesVersions: readonly string[] = cluster.kubernetes;

export interface KubernetesSpec {
  /** The release of every Kubernetes component (built here: see kubernetesVersions). */
  version: string;
  /** Hosts running the control plane (API server, controller manager, scheduler), in order. */
  controlPlane: string[];
  /** Hosts running workloads. A host may be in both: the workshop's second API server runs on a worker. */
  workers: string[];
  /** Where Services get their cluster IPs; its first address is the API server's (`kubernetes`). */
  serviceCidr: Subnet;
  /** Where pods get their addresses: each node a /24 of it, numbered by its lab address's last byte. */
  podCidr: Subnet;
  /** The DNS domain of Services (`<service>.<namespace>.svc.<clusterDomain>`). */
  clusterDomain: string;
  /** Replicas of the workshop's "pause" Deployment. */
  pauseReplicas: number;
  /** Replicas of the small HTTP service (busybox httpd) whose availability the drills measure. */
  webReplicas: number;
  /** Its PodDisruptionBudget: a drain evicts a pod only while this many others stay available. */
  webMinAvailable: number;
  /**
   * How long the workloads stay bound to a node that is NotReady or unreachable before they are evicted.
   * Undefined: Kubernetes' own default (the DefaultTolerationSeconds admission plugin adds 300 s).
   */
  tolerationSeconds: number | undefined;
  /**
   * The control plane's one stable address, a virtual IP on the lab subnet that keepalived moves to a
   * control-plane host whose API server is ready: workers' kubelets and kube-proxy, the admin's kubeconfig
   * and the stack's provider use it. Undefined: the first control-plane host's address (one host only).
   */
  apiVirtualIp: string | undefined;
  /** The controller manager's and scheduler's leader election (Lease objects in kube-system), in seconds. */
  leaderElection: LeaderElection;
}

/** client-go's leader-election timings, as the components' --leader-elect-* flags take them. */
export interface LeaderElection {
  /** How long a Lease holds after its last renewal: how long the others wait for a silent leader. */
  leaseDuration: number;
  /** How long the leader keeps trying to renew before it gives up leading. */
  renewDeadline: number;
  /** How often candidates try to acquire, and the leader to renew. */
  retryPeriod: number;
}

/** Kubernetes' own leader-election timings (kube-controller-manager's and kube-scheduler's defaults). */
export const defaultLeaderElection: LeaderElection = { leaseDuration: 15, renewDeadline: 10, retryPeriod: 2 };
/** client-go's jitter: the renew deadline must exceed this many retry periods. */
const leaderElectionJitter = 1.2;

/** What the API server's DefaultTolerationSeconds admission plugin gives a pod that says nothing. */
export const defaultTolerationSeconds = 300;

/** No roles until a stack gives them: a stack that only runs etcd places nothing of Kubernetes. */
export const kubernetesConfigDefaults = {
  kubernetesVersion: cluster.kubernetes[0]!,
  controlPlane: [],
  workers: [],
  // The workshop's service range; its pod range is flannel's customary one.
  serviceCidr: "10.3.0.0/24",
  podCidr: "10.244.0.0/16",
  clusterDomain: "cluster.local",
  pauseReplicas: 1,
  webReplicas: 2,
  webMinAvailable: 1,
  // Kubernetes' own default: the API server's DefaultTolerationSeconds admission plugin adds 300 s to every
  // pod that says nothing; any other value is written into the workloads' pods.
  workloadTolerationSeconds: defaultTolerationSeconds,
  // None: the first control-plane host's address, enough while there is one.
  apiVirtualIp: "",
  leaderElection: {},
} as const;

/** The pod CIDR's prefix: each node takes the /24 numbered by its address's last byte, so 256 of them. */
export const podCidrPrefix = 16;

/** The API server's address among the Services (`kubernetes.default`): the range's first. */
export function kubernetesServiceIp(serviceCidr: Subnet): string {
  return formatIPv4(serviceCidr.network + 1);
}

/** Cluster DNS's Service address: the tenth, as kubeadm and the workshop (10.3.0.10) have it. */
export function clusterDnsIp(serviceCidr: Subnet): string {
  return formatIPv4(serviceCidr.network + 10);
}

const dnsDomain = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

export function parseKubernetes(
  raw: RawOf<typeof kubernetesConfigDefaults>,
  ctx: { hosts: HostSpec[]; subnet: Subnet | undefined; etcd: EtcdSpec },
  p: Problems,
): KubernetesSpec {
  const defaults = kubernetesConfigDefaults;
  const controlPlane = parseHostNames(
    "controlPlane",
    raw.controlPlane ?? defaults.controlPlane,
    ctx.hosts,
    p,
  );
  const workers = parseHostNames("workers", raw.workers ?? defaults.workers, ctx.hosts, p);
  const serviceCidr =
    parseCidr("serviceCidr", raw.serviceCidr ?? defaults.serviceCidr, p, defaults.serviceCidr) ??
    parseCidr("serviceCidr", defaults.serviceCidr, p)!;
  const podCidr =
    parseCidr("podCidr", raw.podCidr ?? defaults.podCidr, p, defaults.podCidr) ??
    parseCidr("podCidr", defaults.podCidr, p)!;
  if (podCidr.prefix !== podCidrPrefix) {
    p.add(
      "podCidr",
      `${podCidr.cidr} must be a /${podCidrPrefix}: each node takes the /24 numbered by the last byte of its address`,
    );
  }
  if (serviceCidr.prefix > 28) {
    p.add(
      "serviceCidr",
      `${serviceCidr.cidr} is too small: cluster DNS takes its tenth address; use /28 or wider`,
    );
  }
  const named = (s: Subnet, key: string) => `${p.key(key)} (${s.cidr})`;
  if (overlaps(serviceCidr, podCidr)) {
    p.add("serviceCidr", `${serviceCidr.cidr} overlaps ${named(podCidr, "podCidr")}`);
  }
  if (ctx.subnet) {
    for (const [key, s] of [
      ["serviceCidr", serviceCidr],
      ["podCidr", podCidr],
    ] as const) {
      if (overlaps(s, ctx.subnet)) p.add(key, `${s.cidr} overlaps the lab ${named(ctx.subnet, "subnet")}`);
    }
  }
  const clusterDomain = raw.clusterDomain ?? defaults.clusterDomain;
  if (typeof clusterDomain !== "string" || !dnsDomain.test(clusterDomain)) {
    p.add(
      "clusterDomain",
      `${JSON.stringify(clusterDomain)} is not a lower-case DNS domain (e.g. cluster.local)`,
    );
  }
  const pauseReplicas =
    p.intIn("pauseReplicas", raw.pauseReplicas ?? defaults.pauseReplicas, 0, 1000) ?? defaults.pauseReplicas;
  const webReplicas =
    p.intIn("webReplicas", raw.webReplicas ?? defaults.webReplicas, 0, 100) ?? defaults.webReplicas;
  const webMinAvailable =
    p.intIn("webMinAvailable", raw.webMinAvailable ?? defaults.webMinAvailable, 0, 100) ??
    defaults.webMinAvailable;
  if (webReplicas > 0 && webMinAvailable >= webReplicas) {
    p.add(
      "webMinAvailable",
      `${webMinAvailable} of ${p.key("webReplicas")} (${webReplicas}) leaves no pod a drain may evict: removing a worker would wait forever; use at most ${webReplicas - 1}`,
    );
  }
  const tolerationSeconds = p.intIn(
    "workloadTolerationSeconds",
    raw.workloadTolerationSeconds ?? defaults.workloadTolerationSeconds,
    0,
    3600,
  );
  if (workers.length > 0 && controlPlane.length === 0) {
    p.add("workers", `a worker's kubelet registers with the API server: ${p.key("controlPlane")} is empty`);
  }
  if (controlPlane.length > 0) {
    // The API server keeps everything in etcd, over mutual TLS: it needs a member, and the member TLS.
    if (ctx.etcd.members.length === 0) {
      p.add("controlPlane", `a control plane needs etcd: ${p.key("etcdMembers")} is empty`);
    } else if (ctx.etcd.tls !== "on") {
      p.add(
        "controlPlane",
        `the API server talks to etcd over mutual TLS only: set ${p.key("etcdTls")} to on (it is ${ctx.etcd.tls})`,
      );
    }
  }
  const rawVirtualIp = raw.apiVirtualIp ?? defaults.apiVirtualIp;
  const apiVirtualIp = parseVirtualIp(rawVirtualIp, ctx, controlPlane, p);
  if (controlPlane.length > 1 && rawVirtualIp === "") {
    p.add(
      "apiVirtualIp",
      `${controlPlane.length} control-plane hosts need one stable address that moves between them: set ${p.key("apiVirtualIp")} to a free address of the lab subnet${ctx.subnet ? ` (e.g. ${formatIPv4(ctx.subnet.network + 100)})` : ""}`,
    );
  }
  return {
    version:
      p.oneOf("kubernetesVersion", raw.kubernetesVersion ?? defaults.kubernetesVersion, kubernetesVersions) ??
      defaults.kubernetesVersion,
    controlPlane,
    workers,
    serviceCidr,
    podCidr,
    clusterDomain: typeof clusterDomain === "string" ? clusterDomain : defaults.clusterDomain,
    pauseReplicas,
    webReplicas,
    webMinAvailable,
    tolerationSeconds:
      tolerationSeconds === undefined || tolerationSeconds === defaultTolerationSeconds
        ? undefined
        : tolerationSeconds,
    apiVirtualIp,
    leaderElection: parseLeaderElection(raw.leaderElection ?? defaults.leaderElection, p),
  };
}

function parseVirtualIp(
  value: unknown,
  ctx: { hosts: HostSpec[]; subnet: Subnet | undefined },
  controlPlane: string[],
  p: Problems,
): string | undefined {
  if (value === "") return undefined;
  const ip = typeof value === "string" ? parseIPv4(value) : undefined;
  if (ip === undefined) {
    p.add("apiVirtualIp", `${JSON.stringify(value)} is not an IPv4 address (e.g. 172.17.8.100)`);
    return undefined;
  }
  const text = value as string;
  const s = ctx.subnet;
  if (s && !(ip > s.network + 1 && ip < s.network + 2 ** (32 - s.prefix) - 1)) {
    p.add(
      "apiVirtualIp",
      `${text} is outside the lab subnet ${s.cidr} (usable: ${formatIPv4(s.network + 2)} to ${formatIPv4(s.network + 2 ** (32 - s.prefix) - 2)}): keepalived moves it between hosts on one network`,
    );
  }
  const taken = ctx.hosts.find((h) => h.address === text);
  if (taken)
    p.add("apiVirtualIp", `${text} is ${taken.name}'s address; use a free address of the lab subnet`);
  if (controlPlane.length === 0) {
    p.add("apiVirtualIp", `a virtual IP for the API servers needs ${p.key("controlPlane")}; it is empty`);
  }
  return text;
}

function parseLeaderElection(value: unknown, p: Problems): LeaderElection {
  const keys = Object.keys(defaultLeaderElection) as (keyof LeaderElection)[];
  if (!p.objectOf("leaderElection", value, keys)) return defaultLeaderElection;
  const got = { ...defaultLeaderElection };
  let valid = true;
  for (const k of keys) {
    const v = p.intIn(`leaderElection.${k}`, value[k] ?? defaultLeaderElection[k], 1, 300, "whole seconds");
    if (v === undefined) valid = false;
    else got[k] = v;
  }
  if (!valid) return defaultLeaderElection;
  if (got.renewDeadline >= got.leaseDuration) {
    p.add(
      "leaderElection.renewDeadline",
      `${got.renewDeadline} s must be less than leaseDuration (${got.leaseDuration} s): a leader must give up before the others may take over`,
    );
  }
  if (got.renewDeadline <= leaderElectionJitter * got.retryPeriod) {
    p.add(
      "leaderElection.retryPeriod",
      `${got.retryPeriod} s leaves the renew deadline (${got.renewDeadline} s) no room: it must be above ${leaderElectionJitter} retry periods (client-go's rule)`,
    );
  }
  return got;
}
