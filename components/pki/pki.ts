// The workshop made its CA and etcd certificate with cfssl; here every certificate is key → request →
// signed by one CA, with @pulumi/tls, and every private key stays a Pulumi secret.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { PkiSpec } from "../../config";

/** What a certificate is for; a member's certificates serve and also authenticate as clients. */
export type Usage = "server" | "client";

/** The X.509 key usages a certificate for these purposes needs. Pure, for tests. */
export function allowedUses(usages: Usage[]): string[] {
  const uses = new Set(["digital_signature", "key_encipherment"]);
  if (usages.includes("server")) uses.add("server_auth");
  if (usages.includes("client")) uses.add("client_auth");
  return [...uses].sort();
}

/** A private key of the PKI's algorithm, parented under `parent`. */
export function privateKey(name: string, spec: PkiSpec, parent: pulumi.Resource): tls.PrivateKey {
  return new tls.PrivateKey(
    name,
    spec.keyAlgorithm === "RSA"
      ? { algorithm: "RSA", rsaBits: spec.rsaBits }
      : { algorithm: "ECDSA", ecdsaCurve: spec.ecdsaCurve },
    { parent },
  );
}

export interface CertificateAuthorityArgs {
  /** Subject common name of the CA certificate. */
  commonName: string;
  /** Key algorithm, validity and early renewal, from config (`pki`). */
  spec: PkiSpec;
}

/** A self-signed CA that signs every certificate of one trust domain (here: etcd). */
export class CertificateAuthority extends pulumi.ComponentResource {
  public readonly certPem: pulumi.Output<string>;
  public readonly privateKeyPem: pulumi.Output<string>;
  public readonly spec: PkiSpec;

  constructor(name: string, args: CertificateAuthorityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:pki:CertificateAuthority", name, {}, opts);
    this.spec = args.spec;
    const key = privateKey(`${name}-key`, args.spec, this);
    const cert = new tls.SelfSignedCert(
      `${name}-cert`,
      {
        privateKeyPem: key.privateKeyPem,
        subject: { commonName: args.commonName, organization: "real-world-kubernetes" },
        isCaCertificate: true,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
        validityPeriodHours: args.spec.caValidityHours,
        earlyRenewalHours: args.spec.earlyRenewalHours,
        setSubjectKeyId: true,
      },
      { parent: this },
    );
    this.certPem = cert.certPem;
    this.privateKeyPem = pulumi.secret(key.privateKeyPem);
    this.registerOutputs({ certPem: this.certPem });
  }
}

export interface CertificateArgs {
  ca: CertificateAuthority;
  commonName: string;
  /** Subject organization (Kubernetes reads it as the group). */
  organization?: string;
  /** Subject alternative names. */
  dnsNames?: string[];
  ipAddresses?: string[];
  usages: Usage[];
  /** The host whose service it serves, if any: its SANs must name the host (a policy checks). */
  host?: { name: string; address: string };
}

/** What the safety policies (policy/) read of a certificate: its component args, without the CA. */
export interface CertificateFacts {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  usages: Usage[];
  /** The host whose service it serves, if any. */
  host?: { name: string; address: string };
  validityHours: number;
  earlyRenewalHours: number;
}

/** A certificate's facts for the policies. Pure. */
export function certificateFacts(args: CertificateArgs): CertificateFacts {
  return {
    commonName: args.commonName,
    dnsNames: args.dnsNames ?? [],
    ipAddresses: args.ipAddresses ?? [],
    usages: args.usages,
    ...(args.host ? { host: args.host } : {}),
    validityHours: args.ca.spec.validityHours,
    earlyRenewalHours: args.ca.spec.earlyRenewalHours,
  };
}

/** One leaf certificate: its own key, a request, and the CA's signature. */
export class Certificate extends pulumi.ComponentResource {
  public readonly certPem: pulumi.Output<string>;
  public readonly privateKeyPem: pulumi.Output<string>;

  constructor(name: string, args: CertificateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:pki:Certificate", name, certificateFacts(args), opts);
    const spec = args.ca.spec;
    const key = privateKey(`${name}-key`, spec, this);
    const request = new tls.CertRequest(
      `${name}-csr`,
      {
        privateKeyPem: key.privateKeyPem,
        subject: {
          commonName: args.commonName,
          organization: args.organization ?? "real-world-kubernetes",
          // Raising `pki.rotation` changes the request, so every leaf is signed again (cert-rotation).
          organizationalUnit: `rotation ${spec.rotation}`,
        },
        dnsNames: args.dnsNames ?? [],
        ipAddresses: args.ipAddresses ?? [],
      },
      { parent: this },
    );
    const cert = new tls.LocallySignedCert(
      `${name}-cert`,
      {
        certRequestPem: request.certRequestPem,
        caPrivateKeyPem: args.ca.privateKeyPem,
        caCertPem: args.ca.certPem,
        allowedUses: allowedUses(args.usages),
        validityPeriodHours: spec.validityHours,
        // `pulumi up` reissues a certificate this long before it expires.
        earlyRenewalHours: spec.earlyRenewalHours,
      },
      { parent: this },
    );
    this.certPem = cert.certPem;
    this.privateKeyPem = pulumi.secret(key.privateKeyPem);
    // Its expiry and renewal window, for the expiry policy (policy/).
    this.registerOutputs({
      certPem: this.certPem,
      validityEndTime: cert.validityEndTime,
      earlyRenewalHours: spec.earlyRenewalHours,
      usages: args.usages,
    });
  }
}
