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
  kubelet: Kubelet;
  /** The host's kube-proxy: it keeps serving Services until the node is drained. */
  kubeProxy: KubeProxy;
  /** The node's roles, as kubeadm labels them (node-role.kubernetes.io/<role>). */
  roles: NodeRole[];
  /** The control-plane host whose admin kubeconfig (admin.conf) joins and drains nodes. */
  admin: Host;
  /** The control plane: ready before a node can register, and its admin.conf pushed. */
  controlPlane: pulumi.Resource[];
}

/**
 * A host's Node object: the kubelet registers it; this gives it its pod CIDR (the program's, which the
 * host's bridge hands addresses from) and waits until it is Ready. When the host leaves the cluster, it is
 * cordoned and drained through the eviction API (PodDisruptionBudgets respected) and its Node deleted,
 * before its kubelet stops. Run as the admin from a control-plane host.
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
      ...args.roles.flatMap((r) => ["--role", r]),
    );
    // The node's place in the cluster is joined, and later drained, as the admin from a control-plane
    // host: that host is only where kubectl runs. Joining is idempotent, so a change of that host, or a
    // rebuilt node host (which registers the same node again), may re-create the join freely.
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
