// The cluster's workloads as resources of the stack, through the cluster's provider: each object from its
// pure renderer (manifests.ts), registered under a name derived from the caller's.
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { renderClusterDns, renderPause, renderWeb } from "./manifests";
import type { ClusterDnsArgs, PauseArgs, WebArgs } from "./manifests";

/** What every workload here gets: the cluster's provider, and what must exist before its pods can run. */
export interface WorkloadOptions {
  provider: k8s.Provider;
  /** The nodes (Ready) and their kube-proxies; deleted after the workloads, so no drain blocks a destroy. */
  dependsOn: pulumi.Resource[];
}

/** The workshop's pause Deployment (renderPause). */
export function pauseDeployment(
  name: string,
  args: PauseArgs,
  opts: WorkloadOptions,
): k8s.apps.v1.Deployment {
  return new k8s.apps.v1.Deployment(name, renderPause(args), opts);
}

/** The web service the drills measure: its Deployment, Service and PodDisruptionBudget (renderWeb). */
export function webService(name: string, args: WebArgs, opts: WorkloadOptions): pulumi.Resource[] {
  const web = renderWeb(args);
  return [
    new k8s.apps.v1.Deployment(name, web.deployment, opts),
    // The provider waits for a ready endpoint (unless there is no worker: the Service's annotation).
    new k8s.core.v1.Service(`${name}-service`, web.service, opts),
    new k8s.policy.v1.PodDisruptionBudget(`${name}-budget`, web.budget, opts),
  ];
}

/** Cluster DNS (renderClusterDns): CoreDNS with its account, access, configuration and Service. */
export function clusterDns(name: string, args: ClusterDnsArgs, opts: WorkloadOptions): pulumi.Resource[] {
  const dns = renderClusterDns(args);
  const account = new k8s.core.v1.ServiceAccount(`${name}-account`, dns.account, opts);
  const role = new k8s.rbac.v1.ClusterRole(`${name}-role`, dns.role, opts);
  const binding = new k8s.rbac.v1.ClusterRoleBinding(`${name}-binding`, dns.binding, opts);
  const config = new k8s.core.v1.ConfigMap(`${name}-config`, dns.config, opts);
  const deployment = new k8s.apps.v1.Deployment(
    name,
    dns.deployment,
    // Its pods read the Corefile and list the cluster as their account: those first.
    { ...opts, dependsOn: [...opts.dependsOn, account, role, binding, config] },
  );
  // The provider waits for a ready endpoint; CoreDNS runs even with no worker (it tolerates the
  // control-plane taint).
  const service = new k8s.core.v1.Service(`${name}-service`, dns.service, opts);
  return [account, role, binding, config, deployment, service];
}
