import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { hostCommand } from "../host/commands";
import type { Host } from "../host/host";
import { shellCommand } from "../host/shell";
import { paths } from "./facts";
import type { KubeProxy } from "./kube-proxy";
import type { Kubelet } from "./kubelet";

/** A node's role label, as kubectl get nodes shows it (a kubelet may not set these on its own node). */
export type NodeRole = "control-plane" | "worker";

export interface NodeArgs {
  /** The node's host: its kubelet registers it. */
  host: Host;
  /** The host's pod subnet (the runtime's bridge hands out its addresses), recorded as the node's. */
  podCidr: string;
  /** The Kubernetes release its kubelet runs: the node is Ready at it before it counts as joined. */
  version: string;
  kubelet: Kubelet;
  /** The host's kube-proxy: it keeps serving Services until the node is drained. */
  kubeProxy: KubeProxy;
  /** The node's roles, as kubeadm labels them (node-role.kubernetes.io/<role>). */
  roles: NodeRole[];
  /** The control-plane host whose admin kubeconfig (admin.conf) joins and drains nodes. */
  admin: Host;
  /**
   * The API servers the node's kubelet and the admin talk to (a control-plane host's own and the admin
   * host's; for a worker, every one and the virtual IP): ready before a node can register.
   */
  controlPlane: pulumi.Resource[];
}

/**
 * A host's Node object: the kubelet registers it; this gives it its pod CIDR (the program's, which the
 * host's bridge hands addresses from) and waits until it is Ready with its kubelet at the stack's release,
 * then makes it schedulable (an upgrade drained it). When the host leaves the cluster, it is cordoned and
 * drained through the eviction API (PodDisruptionBudgets respected) and its Node deleted, before its
 * kubelet stops. Run as the admin from a control-plane host.
 */
export class Node extends pulumi.ComponentResource {
  /** Completes once the node is registered with its pod CIDR and Ready. */
  public readonly ready: command.remote.Command;

  constructor(name: string, args: NodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:kubernetes:Node", name, {}, opts);
    const node = args.host.hostName;
    const join = shellCommand(
      paths.script,
      "node-join",
      "--node",
      node,
      "--pod-cidr",
      args.podCidr,
      "--kubelet",
      args.version,
      ...args.roles.flatMap((r) => ["--role", r]),
    );
    // The node's place in the cluster is joined, and later drained, as the admin from a control-plane
    // host: that host is only where kubectl runs. Joining is idempotent, so a change of that host, or a
    // rebuilt node host (which registers the same node again), may re-create the join freely; a new
    // release runs it again (its command names the release).
    this.ready = hostCommand(
      args.admin,
      `${name}-joined`,
      { create: join, update: join, triggers: [args.host.identity] },
      // The control plane answers, with admin.conf on its host.
      { parent: this, dependsOn: [args.kubelet.ready, args.kubeProxy.ready, ...args.controlPlane] },
    );
    // The drain is a resource of its own that nothing re-creates (no trigger: `once`): only the node
    // leaving the cluster deletes it. Were it the join's delete, a join re-created for another admin host
    // or a rebuilt node host would drain the node and delete its Node after the new join.
    hostCommand(
      args.admin,
      `${name}-drain`,
      { create: "true", delete: shellCommand(paths.script, "node-drain", "--node", node), once: true },
      // Deleted before the kubelet and kube-proxy (which this depends on) stop: the drain runs while the
      // node's kubelet still ends its pods.
      {
        parent: this,
        dependsOn: [this.ready, args.kubelet.ready, args.kubeProxy.ready, ...args.controlPlane],
      },
    );
    this.registerOutputs({});
  }
}

export interface UpgradeDrainArgs {
  /** The node's host. */
  host: Host;
  /** The Kubernetes release its kubelet is about to run. */
  version: string;
  /** The control-plane host whose admin kubeconfig (admin.conf) drains nodes. */
  admin: Host;
  /**
   * What rolls before: the admin host's rwk-kube helper pushed, the node before this one Ready at the
   * release and schedulable again (its pods may have to come here), and for a worker every API server
   * (its kubelet must not run newer than any of them).
   */
  after: pulumi.Resource[];
}

/**
 * A node drained before its kubelet moves to another release (kubeadm's upgrade: drain, upgrade the
 * kubelet and kube-proxy, uncordon): cordoned, its pods evicted through the eviction API
 * (PodDisruptionBudgets respected), its Node kept. Nothing happens for a node not registered yet or whose
 * kubelet already runs the release (an upgrade interrupted after it). The node's join makes it
 * schedulable again once its kubelet runs the release.
 */
export class UpgradeDrain extends pulumi.ComponentResource {
  /** Completes once the node is drained, or found with nothing to drain. */
  public readonly done: command.remote.Command;

  constructor(name: string, args: UpgradeDrainArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:kubernetes:UpgradeDrain", name, {}, opts);
    const drain = shellCommand(
      paths.script,
      "node-upgrade-drain",
      "--node",
      args.host.hostName,
      "--kubelet",
      args.version,
    );
    // Run again whenever the release changes (its command names it); on the admin host, for this one
    // (`once`: a rebuilt node host has nothing to drain).
    this.done = hostCommand(
      args.admin,
      `${name}-drained`,
      { create: drain, update: drain, once: true },
      { parent: this, dependsOn: args.after },
    );
    this.registerOutputs({});
  }
}
