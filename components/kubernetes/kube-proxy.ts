import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { runFromFiles } from "../host/commands";
import type { Host } from "../host/host";
import { shellCommand } from "../host/shell";
import type { Certificate } from "../pki/pki";
import { paths } from "./facts";
import type { Kubelet } from "./kubelet";
import { kubeProxyFiles } from "./render";

export interface KubeProxyArgs {
  host: Host;
  /** The Kubernetes release (the runtime copied its kube-proxy to the host). */
  version: string;
  /** The host's kubelet: its push brought the rwk-kube helper, its runtime the kube-proxy binary. */
  kubelet: Kubelet;
  caCertPem: pulumi.Input<string>;
  /** kube-proxy's certificate (CN=system:kube-proxy). */
  certificate: Certificate;
  /** The API server it watches Services and EndpointSlices on. */
  apiserver: string;
  /** The stack's pod CIDR. */
  podCidr: string;
  /** What must answer before kube-proxy can sync: the control plane. */
  controlPlane: pulumi.Resource[];
}

/**
 * kube-proxy on a host with a Kubernetes role, as a systemd service (the workshop's and Kubernetes the
 * Hard Way's way; kubeadm runs the same binary as a DaemonSet): it turns each Service into iptables rules,
 * so a ClusterIP works from every node and pod, and a NodePort on every node.
 */
export class KubeProxy extends pulumi.ComponentResource {
  /** Completes once kube-proxy runs its current configuration with its rules in sync. */
  public readonly ready: command.remote.Command;

  constructor(name: string, args: KubeProxyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:kubernetes:KubeProxy", name, {}, opts);
    const { host } = args;
    const files = pulumi
      .all([args.caCertPem, args.certificate.certPem, args.certificate.privateKeyPem])
      .apply(([caPem, certPem, keyPem]) =>
        kubeProxyFiles({
          host: { name: host.hostName, address: host.address },
          version: args.version,
          podCidr: args.podCidr,
          apiserver: args.apiserver,
          caPem,
          certPem,
          keyPem,
        }),
      );
    this.ready = runFromFiles(
      host,
      name,
      {
        files,
        restartMarker: paths.kubeProxyRestartPending,
        start: (hash) => shellCommand(paths.script, "start-proxy", "--config", hash),
        stop: shellCommand(paths.script, "stop-proxy"),
      },
      // The helper and the binary come with the kubelet's push and runtime; kube-proxy is in sync only
      // once the API server answers.
      { parent: this, dependsOn: [args.kubelet.ready, ...args.controlPlane] },
    ).started;
    this.registerOutputs({});
  }
}
