// Where Kubernetes runs and the cluster's own networks. Roles are config, like etcdMembers, so "control
// plane on core-01, workers on core-02 and core-03" and later "control plane on all three" are steps a
// stack takes one update at a time.
import { formatIPv4, overlaps, parseCidr, parseHostNames } from "./hosts";
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
}

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
  };
}
