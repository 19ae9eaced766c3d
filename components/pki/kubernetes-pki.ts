// Kubernetes' trust domain, apart from etcd's (as kubeadm keeps it): every certificate the etcd CA signs
// is an etcd client, so that CA must never vouch for a Kubernetes identity, nor this one for etcd.
import * as pulumi from "@pulumi/pulumi";
import type { PkiSpec } from "../../config";
import { identities, nodeIdentity } from "../kubernetes/facts";
import { Certificate, CertificateAuthority, privateKey } from "./pki";

/** A host by name and lab address: what a certificate's SANs name. */
export interface Placement {
  name: string;
  address: string;
}

export interface KubernetesPkiArgs {
  spec: PkiSpec;
  /** Hosts running an API server: each gets its own serving certificate, as kubeadm gives them. */
  controlPlane: Placement[];
  /** Hosts running a kubelet: each gets its node identity, which also serves the kubelet's port. */
  nodes: Placement[];
  /** The API server's Service address (the service CIDR's first). */
  serviceIp: string;
  clusterDomain: string;
  /** The control plane's stable address (keepalived's virtual IP), if any: every API server answers on it. */
  apiVirtualIp?: string;
}

/**
 * The names one API server's serving certificate holds: in-cluster, its host, loopback and the virtual IP.
 * One certificate per host: a host joining the control plane changes no other host's certificate, so no
 * running API server restarts for it.
 */
export function apiserverSans(
  args: Pick<KubernetesPkiArgs, "serviceIp" | "clusterDomain" | "apiVirtualIp"> & { host: Placement },
): {
  dnsNames: string[];
  ipAddresses: string[];
} {
  return {
    dnsNames: [
      "kubernetes",
      "kubernetes.default",
      "kubernetes.default.svc",
      `kubernetes.default.svc.${args.clusterDomain}`,
      "localhost",
      args.host.name,
    ],
    ipAddresses: [
      args.serviceIp,
      "127.0.0.1",
      args.host.address,
      ...(args.apiVirtualIp ? [args.apiVirtualIp] : []),
    ],
  };
}

/**
 * The Kubernetes CA; each API server's serving certificate and their client certificate for the kubelets;
 * the admin, controller-manager, scheduler and kube-proxy identities; each node's kubelet; the
 * service-account key.
 */
export class KubernetesPki extends pulumi.ComponentResource {
  public readonly ca: CertificateAuthority;
  /** Each control-plane host's API server serving certificate, by host name. */
  public readonly apiservers: Record<string, Certificate> = {};
  public readonly apiserverKubeletClient: Certificate;
  public readonly admin: Certificate;
  public readonly controllerManager: Certificate;
  public readonly scheduler: Certificate;
  /** Every node's kube-proxy: one identity, bound to system:node-proxier by the API server's defaults. */
  public readonly kubeProxy: Certificate;
  public readonly kubelets: Record<string, Certificate> = {};
  /** The key pair that signs and verifies service-account tokens (not a certificate). */
  public readonly serviceAccountPublicKeyPem: pulumi.Output<string>;
  public readonly serviceAccountPrivateKeyPem: pulumi.Output<string>;

  constructor(name: string, args: KubernetesPkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:pki:KubernetesPki", name, {}, opts);
    this.ca = new CertificateAuthority(
      `${name}-ca`,
      { commonName: "real-world-kubernetes Kubernetes CA", spec: args.spec },
      { parent: this },
    );
    const leaf = (suffix: string, a: Omit<ConstructorParameters<typeof Certificate>[1], "ca">) =>
      new Certificate(`${name}-${suffix}`, { ca: this.ca, ...a }, { parent: this });
    for (const host of args.controlPlane) {
      this.apiservers[host.name] = leaf(`apiserver-${host.name}`, {
        commonName: "kube-apiserver",
        ...apiserverSans({ ...args, host }),
        usages: ["server"],
        host,
      });
    }
    this.apiserverKubeletClient = leaf("apiserver-kubelet-client", {
      ...identities.apiserverKubeletClient,
      usages: ["client"],
    });
    this.admin = leaf("admin", { ...identities.admin, usages: ["client"] });
    this.controllerManager = leaf("controller-manager", {
      ...identities.controllerManager,
      usages: ["client"],
    });
    this.scheduler = leaf("scheduler", { ...identities.scheduler, usages: ["client"] });
    this.kubeProxy = leaf("kube-proxy", { ...identities.kubeProxy, usages: ["client"] });
    for (const node of args.nodes) {
      // One certificate for both of the kubelet's roles: its client identity towards the API server, and
      // its serving certificate for the API server's calls (logs, exec), naming the host.
      this.kubelets[node.name] = leaf(`kubelet-${node.name}`, {
        ...nodeIdentity(node.name),
        dnsNames: [node.name],
        ipAddresses: [node.address],
        usages: ["server", "client"],
        host: node,
      });
    }
    const sa = privateKey(`${name}-service-account`, args.spec, this);
    this.serviceAccountPublicKeyPem = sa.publicKeyPem;
    this.serviceAccountPrivateKeyPem = pulumi.secret(sa.privateKeyPem);
    this.registerOutputs({ caCertPem: this.ca.certPem });
  }
}
