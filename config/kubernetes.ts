// Where Kubernetes runs. Roles are config, like etcdMembers, so "control plane on core-01, workers on
// core-02 and core-03" and later "control plane on all three" are steps a stack takes one update at a time.
import { parseHostNames } from "./hosts";
import type { HostSpec } from "./hosts";
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
}

/** No roles until a stack gives them: a stack that only runs etcd places nothing of Kubernetes. */
export const kubernetesConfigDefaults = {
  kubernetesVersion: cluster.kubernetes[0]!,
  controlPlane: [],
  workers: [],
} as const;

export function parseKubernetes(
  raw: RawOf<typeof kubernetesConfigDefaults>,
  hosts: HostSpec[],
  p: Problems,
): KubernetesSpec {
  const defaults = kubernetesConfigDefaults;
  return {
    version:
      p.oneOf("kubernetesVersion", raw.kubernetesVersion ?? defaults.kubernetesVersion, kubernetesVersions) ??
      defaults.kubernetesVersion,
    controlPlane: parseHostNames("controlPlane", raw.controlPlane ?? defaults.controlPlane, hosts, p),
    workers: parseHostNames("workers", raw.workers ?? defaults.workers, hosts, p),
  };
}
