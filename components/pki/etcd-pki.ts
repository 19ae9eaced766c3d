import * as pulumi from "@pulumi/pulumi";
import type { PkiSpec } from "../../config";
import { memberSans, peerCommonName } from "../etcd/render";
import type { MemberPlacement } from "../etcd/render";
import { Certificate, CertificateAuthority } from "./pki";

export interface EtcdPkiArgs {
  spec: PkiSpec;
  /** The members that need certificates. */
  members: MemberPlacement[];
}

/**
 * etcd's trust domain: one CA; per member a serving and a peer certificate; client certificates for the
 * operator (etcdctl) and for the Kubernetes API server.
 */
export class EtcdPki extends pulumi.ComponentResource {
  public readonly ca: CertificateAuthority;
  public readonly servers: Record<string, Certificate> = {};
  public readonly peers: Record<string, Certificate> = {};
  public readonly operator: Certificate;
  public readonly apiserver: Certificate;

  constructor(name: string, args: EtcdPkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:pki:EtcdPki", name, {}, opts);
    this.ca = new CertificateAuthority(
      `${name}-ca`,
      { commonName: "real-world-kubernetes etcd CA", spec: args.spec },
      { parent: this },
    );
    for (const m of args.members) {
      const sans = memberSans(m);
      // Serving certificates also authenticate as clients: etcd's own gateway and etcdctl on the host use them.
      this.servers[m.name] = new Certificate(
        `${name}-${m.name}-server`,
        { ca: this.ca, commonName: m.name, ...sans, usages: ["server", "client"], host: m },
        { parent: this },
      );
      // One name for every peer: the peer port accepts no other certificate of this CA (peerCommonName).
      this.peers[m.name] = new Certificate(
        `${name}-${m.name}-peer`,
        { ca: this.ca, commonName: peerCommonName, ...sans, usages: ["server", "client"], host: m },
        { parent: this },
      );
    }
    this.operator = new Certificate(
      `${name}-operator`,
      { ca: this.ca, commonName: "operator", usages: ["client"] },
      { parent: this },
    );
    this.apiserver = new Certificate(
      `${name}-apiserver`,
      {
        ca: this.ca,
        commonName: "kube-apiserver-etcd-client",
        organization: "system:masters",
        usages: ["client"],
      },
      { parent: this },
    );
    this.registerOutputs({ caCertPem: this.ca.certPem });
  }
}
