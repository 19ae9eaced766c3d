import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Driver } from "../../config";
import { Forward } from "../host/forward";
import { ApiAnswers } from "./api-answers";
import type { Lab } from "../host/lab";
import type { KubernetesPki } from "../pki/kubernetes-pki";
import { identities, ports } from "./facts";
import { apiserverUrl, renderKubeconfig } from "./render";

export interface ClusterAccessArgs {
  lab: Lab;
  driver: Driver;
  labName: string;
  /** The control-plane host whose API server the workstation talks to. */
  apiserverAddress: string;
  pki: KubernetesPki;
  /** What must be ready before the API answers: the control plane. */
  ready: pulumi.Resource[];
}

/**
 * The workstation's way into the cluster: the admin's kubeconfig (a secret stack output, for kubectl) and
 * a Kubernetes provider built from it, so Kubernetes objects are ordinary resources of the stack. On a
 * local lab the API server is reached through a lab forward on 127.0.0.1 (the engine runs outside the
 * lab's network); the serving certificate names 127.0.0.1 for that. Your own hosts (ssh) are reached
 * directly.
 */
export class ClusterAccess extends pulumi.ComponentResource {
  public readonly server: pulumi.Output<string>;
  public readonly kubeconfig: pulumi.Output<string>;
  public readonly provider: k8s.Provider;

  constructor(name: string, args: ClusterAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:kubernetes:ClusterAccess", name, {}, opts);
    if (args.driver === "ssh") {
      this.server = pulumi.output(apiserverUrl(args.apiserverAddress));
    } else {
      const forward = new Forward(
        `${name}-forward`,
        {
          driver: args.driver,
          lab: args.labName,
          name: "apiserver",
          address: args.apiserverAddress,
          remotePort: ports.apiserver,
        },
        // The forward leads through the lab's network: it goes before the switch does.
        { parent: this, ...(args.lab.network ? { dependsOn: [args.lab.network] } : {}) },
      );
      this.server = pulumi.interpolate`https://127.0.0.1:${forward.port}`;
    }
    const { pki } = args;
    this.kubeconfig = pulumi.secret(
      pulumi
        .all([this.server, pki.ca.certPem, pki.admin.certPem, pki.admin.privateKeyPem])
        .apply(([server, caPem, certPem, keyPem]) =>
          renderKubeconfig({ server, caPem, user: identities.admin.commonName, certPem, keyPem }),
        ),
    );
    // The provider's first request must not be the one that finds the API busy: wait until it answers.
    const answers = new ApiAnswers(
      `${name}-answers`,
      {
        server: this.server,
        caPem: pki.ca.certPem,
        certPem: pki.admin.certPem,
        keyPem: pulumi.secret(pki.admin.privateKeyPem),
        timeoutSeconds: 300,
      },
      // It asks the control plane, once that is ready.
      { parent: this, dependsOn: args.ready },
    );
    this.provider = new k8s.Provider(
      `${name}-provider`,
      // Client-side diffs, from the inputs in the state: the drills update the stack while the API server
      // cannot answer (etcd stopped under it), and a server-side dry run would fail every such update on
      // objects that do not even change.
      { kubeconfig: this.kubeconfig, enableServerSideApply: false },
      // Its objects are created once the API server is ready and answers the workstation.
      { parent: this, dependsOn: [...args.ready, answers] },
    );
    this.registerOutputs({ server: this.server });
  }
}
