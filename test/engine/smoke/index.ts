import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";

const config = new pulumi.Config();

const suffix = new random.RandomString("suffix", { length: 8, special: false, upper: false });
const key = new tls.PrivateKey("key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
const cert = new tls.SelfSignedCert("cert", {
  privateKeyPem: key.privateKeyPem,
  subject: { commonName: pulumi.interpolate`${config.get("commonName") ?? "rwk-smoke"}-${suffix.result}` },
  validityPeriodHours: config.getNumber("validityHours") ?? 24,
  allowedUses: ["digital_signature", "server_auth"],
});

export const certPem = cert.certPem;
export const keyPem = key.privateKeyPem;
