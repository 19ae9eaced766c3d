// Where Kubernetes runs. Roles are config, like etcdMembers, so "control plane on core-01, workers on
// core-02 and core-03" and later "control plane on all three" are steps a stack takes one update at a time.
import { parseHostNames } from "./hosts";
import type { HostSpec } from "./hosts";
import type { Problems, RawOf } from "./problems";

export interface KubernetesSpec {
  /** Hosts running the control plane (API server, controller manager, scheduler), in order. */
  controlPlane: string[];
  /** Hosts running workloads. A host may be in both: the workshop's second API server runs on a worker. */
  workers: string[];
}

/** No roles until a stack gives them: a stack that only runs etcd places nothing of Kubernetes. */
export const kubernetesConfigDefaults = { controlPlane: [], workers: [] } as const;

export function parseKubernetes(
  raw: RawOf<typeof kubernetesConfigDefaults>,
  hosts: HostSpec[],
  p: Problems,
): KubernetesSpec {
  const defaults = kubernetesConfigDefaults;
  return {
    controlPlane: parseHostNames("controlPlane", raw.controlPlane ?? defaults.controlPlane, hosts, p),
    workers: parseHostNames("workers", raw.workers ?? defaults.workers, hosts, p),
  };
}
