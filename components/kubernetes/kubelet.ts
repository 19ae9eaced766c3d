import * as fs from "fs";
import * as path from "path";
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { runFromFiles } from "../host/commands";
import type { Host } from "../host/host";
import { shellCommand, unitLibraryFile } from "../host/shell";
import type { Certificate } from "../pki/pki";
import type { NodeRuntime } from "../runtime/runtime";
import { paths } from "./facts";
import { kubeletFiles } from "./render";

export interface KubeletArgs {
  host: Host;
  /** The Kubernetes release (the runtime copied its kubelet to the host). */
  version: string;
  /** The host's container runtime: containerd ready, the release linked, the images imported. */
  runtime: NodeRuntime;
  caCertPem: pulumi.Input<string>;
  /** The node's certificate (CN=system:node:<host>, O=system:nodes). */
  certificate: Certificate;
  /** The API server it registers with. */
  apiserver: string;
  clusterDns: string;
  clusterDomain: string;
  /** A control-plane host that is no worker: registered tainted, so workloads stay off it. */
  controlPlaneOnly: boolean;
  /**
   * What must be done before the kubelet (re)starts on a new release, after its files landed: its node
   * drained, a control-plane host's new manifests in place (they may be given as promises: they are
   * registered after this, and need its files).
   */
  after: pulumi.Input<pulumi.Resource>[];
}

/**
 * The kubelet of a host with a Kubernetes role: its configuration, kubeconfig, certificate and systemd
 * unit pushed with the host building block, then started (restarted only when a file it reads at start
 * changed). It runs the host's static pods and registers the host as a node.
 */
export class Kubelet extends pulumi.ComponentResource {
  /** Completes once the kubelet runs its current configuration and answers its health check. */
  public readonly ready: command.remote.Command;
  /** Its files on the host, the rwk-kube helper with them (the kubelet reads them only when it starts). */
  public readonly files: command.remote.Command;

  constructor(name: string, args: KubeletArgs, opts?: pulumi.ComponentResourceOptions) {
    // Its host and release: the version-skew policy compares them with the API servers' (policy/).
    const facts = { host: args.host.hostName, version: args.version };
    super("rwk:kubernetes:Kubelet", name, facts, opts);
    const { host } = args;
    const script = fs.readFileSync(path.join(__dirname, "rwk-kube.sh"), "utf8");
    const library = fs.readFileSync(unitLibraryFile, "utf8");
    const files = pulumi
      .all([args.caCertPem, args.certificate.certPem, args.certificate.privateKeyPem])
      .apply(([caPem, certPem, keyPem]) =>
        kubeletFiles({
          host: { name: host.hostName, address: host.address },
          version: args.version,
          clusterDns: args.clusterDns,
          clusterDomain: args.clusterDomain,
          controlPlaneOnly: args.controlPlaneOnly,
          apiserver: args.apiserver,
          caPem,
          certPem,
          keyPem,
          script,
          library,
        }),
      );
    const { pushed, started } = runFromFiles(
      host,
      name,
      {
        files,
        restartMarker: paths.restartPending,
        start: (hash) => shellCommand(paths.script, "start-kubelet", "--config", hash),
        // A host that leaves every role: its kubelet stops and its pods go with it.
        stop: shellCommand(paths.script, "stop"),
      },
      // The kubelet's unit runs the release's kubelet against containerd, and its static pods need
      // their images: all of the runtime first.
      {
        parent: this,
        dependsOn: [args.runtime.ready, args.runtime.kubernetes, ...args.runtime.images, ...args.after],
      },
    );
    this.files = pushed;
    this.ready = started;
    this.registerOutputs(facts);
  }
}
