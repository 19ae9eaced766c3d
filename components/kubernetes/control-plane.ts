import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { hostCommand, pushFiles } from "../host/commands";
import type { Host } from "../host/host";
import { shellCommand } from "../host/shell";
import type { EtcdPki } from "../pki/etcd-pki";
import type { KubernetesPki } from "../pki/kubernetes-pki";
import { controlPlaneComponents, paths } from "./facts";
import type { ControlPlaneComponent } from "./facts";
import { apiserverUrl, controlPlaneFiles } from "./render";
import type { Kubelet } from "./kubelet";
import type { LeaderElection } from "../../config/kubernetes";
import { pendingFacts } from "../../config/upgrade";
import type { Deployed } from "../../config/upgrade";

export interface ControlPlaneArgs {
  host: Host;
  /** Image references of the stack's Kubernetes release. */
  images: Record<ControlPlaneComponent, string>;
  pki: KubernetesPki;
  /** The etcd CA and the API server's client certificate it signed. */
  etcdPki: EtcdPki;
  /** Every etcd member's client URL: the API server is pointed at all of them. */
  etcdServers: string[];
  /** The Kubernetes release (its images are `images`). */
  version: string;
  /** Every control-plane host, in config order (this one among them). */
  controlPlaneHosts: string[];
  /**
   * What the last completed update ran (default: nothing recorded): the safety policies compare with it.
   * Given in a preview only (index.ts), so that an update records the args of what runs.
   */
  deployed?: Deployed;
  /** Every host of the inventory: running, stopped or destroyed. */
  hostStates: Record<string, string>;
  serviceCidr: string;
  clusterDomain: string;
  /** The host's kubelet, which runs the static pods. */
  kubelet: Kubelet;
  /**
   * What must be done before the manifests change: the host's images imported (the kubelet would look for
   * them in a registry), its node drained for a new release.
   */
  before: pulumi.Resource[];
  /** What must be up before the API server can be, and roll before it: the etcd members. */
  etcd: pulumi.Resource[];
  /**
   * The control-plane host before this one, if any: its control plane is ready before this one's
   * manifests change, so an update goes through the hosts one at a time (joining, or a change that
   * restarts them) and never takes two API servers down at once.
   */
  after?: ControlPlane;
  /** The controller manager's and scheduler's Lease timings. */
  leaderElection: LeaderElection;
  /** The etcd restore the cluster came from: a new one restarts the control plane (see ControlPlaneInput). */
  etcdRestore?: string;
}

/**
 * What the safety policies (policy/) read of one host's control plane: its component args, plain and
 * known at preview. The control plane as config wants it and, with a pending change only, what the last
 * completed update ran where it differs and the hosts' states (a host stopping changes no args).
 */
export interface ControlPlaneFacts {
  host: string;
  version: string;
  /** Every control-plane host, in config order. */
  controlPlane: string[];
  etcdServers: string[];
  deployedVersion?: string;
  deployedControlPlane?: string[];
  /** With a pending change: every host of the inventory, running, stopped or destroyed. */
  hostStates?: Record<string, string>;
}

/** One host's control plane's facts for the policies. Pure. */
export function controlPlaneFacts(args: ControlPlaneArgs): ControlPlaneFacts {
  const deployed = args.deployed ?? {};
  return {
    host: args.host.hostName,
    version: args.version,
    controlPlane: args.controlPlaneHosts,
    etcdServers: args.etcdServers,
    ...pendingFacts(
      {
        deployedVersion: [deployed.kubernetesVersion, args.version],
        deployedControlPlane: [deployed.controlPlane, args.controlPlaneHosts],
      },
      { hostStates: args.hostStates },
    ),
  };
}

/**
 * The control plane on one host, as the workshop ran it: kube-apiserver, kube-controller-manager and
 * kube-scheduler as static pods of the host's kubelet, with their certificates and kubeconfigs. A change
 * of a manifest, or of a file a component reads, replaces that component's pod only.
 */
export class ControlPlane extends pulumi.ComponentResource {
  /** Completes once the current pods run and the API server is ready (/readyz). */
  public readonly ready: command.remote.Command;
  /** The API server's URL on the lab network. */
  public readonly apiserver: string;
  /** The manifests and the files they read, on the host: the kubelet runs these pods once they land. */
  public readonly manifests: command.remote.Command;

  constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:kubernetes:ControlPlane", name, controlPlaneFacts(args), opts);
    const { host, pki, etcdPki } = args;
    this.apiserver = apiserverUrl(host.address);
    const rendered = pulumi
      .output({
        caPem: pki.ca.certPem,
        etcdCaPem: etcdPki.ca.certPem,
        apiserverCert: pki.apiservers[host.hostName]!.certPem,
        apiserverKey: pki.apiservers[host.hostName]!.privateKeyPem,
        apiserverKubeletClientCert: pki.apiserverKubeletClient.certPem,
        apiserverKubeletClientKey: pki.apiserverKubeletClient.privateKeyPem,
        apiserverEtcdClientCert: etcdPki.apiserver.certPem,
        apiserverEtcdClientKey: etcdPki.apiserver.privateKeyPem,
        serviceAccountPublicKey: pki.serviceAccountPublicKeyPem,
        serviceAccountKey: pki.serviceAccountPrivateKeyPem,
        controllerManager: {
          certPem: pki.controllerManager.certPem,
          keyPem: pki.controllerManager.privateKeyPem,
        },
        scheduler: { certPem: pki.scheduler.certPem, keyPem: pki.scheduler.privateKeyPem },
        admin: { certPem: pki.admin.certPem, keyPem: pki.admin.privateKeyPem },
      })
      .apply((pems) =>
        controlPlaneFiles({
          ...pems,
          host: { name: host.hostName, address: host.address },
          images: args.images,
          etcdServers: args.etcdServers,
          serviceCidr: args.serviceCidr,
          clusterDomain: args.clusterDomain,
          leaderElection: args.leaderElection,
          ...(args.etcdRestore ? { etcdRestore: args.etcdRestore } : {}),
        }),
      );
    const pushed = pushFiles(
      host,
      `${name}-files`,
      { files: rendered.files },
      // etcd's members roll before the API servers (the version-skew policy's order), and the hosts one
      // at a time.
      {
        parent: this,
        dependsOn: [...args.before, ...args.etcd, ...(args.after ? [args.after.ready] : [])],
      },
    );
    this.manifests = pushed;
    // The pods each run with what was just pushed: each static pod's inputs label names it.
    // The labels are truncated hashes, which reveal nothing of the keys they cover: the command stays
    // readable in the engine's log.
    const wait = pulumi
      .unsecret(rendered.inputs)
      .apply((inputs) =>
        shellCommand(
          paths.script,
          "wait-control-plane",
          "--apiserver",
          this.apiserver,
          ...controlPlaneComponents.flatMap((c) => ["--pod", `${c}-${host.hostName}=${inputs[c]}`]),
        ),
      );
    const manifests = controlPlaneComponents.map((c) => `${paths.manifests}/${c}.yaml`);
    this.ready = hostCommand(
      host,
      `${name}-ready`,
      {
        create: wait,
        update: wait,
        // The control plane leaves this host: its manifests go, and the kubelet stops its pods.
        delete: shellCommand("rm", "-f", ...manifests),
      },
      // The API server starts against etcd, from the kubelet that runs its manifest; one host at a time.
      {
        parent: this,
        dependsOn: [pushed, args.kubelet.ready, ...args.etcd, ...(args.after ? [args.after.ready] : [])],
      },
    );
    // What it runs, for the policies that compare it with the kubelets and the etcd members (policy/).
    this.registerOutputs({
      apiserver: this.apiserver,
      host: host.hostName,
      version: args.version,
      etcdServers: args.etcdServers,
    });
  }
}
