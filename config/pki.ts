// The certificates of etcd's PKI: key type, lifetimes, and the knob that reissues every leaf.
import type { Problems, RawOf } from "./problems";

export const keyAlgorithms = ["ECDSA", "RSA"] as const;
export const ecdsaCurves = ["P256", "P384"] as const;
export const rsaBitSizes = [2048, 3072, 4096] as const;

export interface PkiSpec {
  keyAlgorithm: (typeof keyAlgorithms)[number];
  ecdsaCurve: (typeof ecdsaCurves)[number];
  rsaBits: (typeof rsaBitSizes)[number];
  /** Validity of leaf certificates, and of the CA. */
  validityHours: number;
  caValidityHours: number;
  /** `pulumi up` reissues a certificate this long before it expires. */
  earlyRenewalHours: number;
  /** Raise to have every leaf certificate signed again (the cert-rotation drill). */
  rotation: number;
}

export const pkiDefaults: Readonly<PkiSpec> = {
  keyAlgorithm: "ECDSA",
  ecdsaCurve: "P256",
  rsaBits: 2048,
  validityHours: 8760,
  caValidityHours: 87600,
  earlyRenewalHours: 720,
  rotation: 0,
};

export const pkiConfigDefaults = { pki: pkiDefaults } as const;

export function parsePki(raw: RawOf<typeof pkiConfigDefaults>, p: Problems): PkiSpec {
  const defaults = pkiDefaults;
  const value: unknown = raw.pki ?? defaults;
  if (!p.objectOf("pki", value, Object.keys(defaults))) return { ...defaults };
  const keyAlgorithm = p.oneOf(
    "pki.keyAlgorithm",
    value["keyAlgorithm"] ?? defaults.keyAlgorithm,
    keyAlgorithms,
  );
  const ecdsaCurve = p.oneOf("pki.ecdsaCurve", value["ecdsaCurve"] ?? defaults.ecdsaCurve, ecdsaCurves);
  const rsaBits = value["rsaBits"] ?? defaults.rsaBits;
  if (!(rsaBitSizes as readonly unknown[]).includes(rsaBits)) {
    p.add("pki.rsaBits", `${JSON.stringify(rsaBits)} is not one of ${rsaBitSizes.join(", ")}`);
  }
  const int = (k: keyof PkiSpec, min: number, max: number): number =>
    p.intIn(`pki.${k}`, value[k] ?? defaults[k], min, max) ?? (defaults[k] as number);
  const validityHours = int("validityHours", 1, 876000);
  const caValidityHours = int("caValidityHours", 1, 876000);
  const earlyRenewalHours = int("earlyRenewalHours", 0, 876000);
  const rotation = int("rotation", 0, 1000000);
  if (earlyRenewalHours >= validityHours) {
    p.add(
      "pki.earlyRenewalHours",
      `${earlyRenewalHours} must be less than validityHours (${validityHours}), or every up would renew`,
    );
  }
  if (validityHours > caValidityHours) {
    p.add("pki.validityHours", `${validityHours} exceeds the CA's caValidityHours (${caValidityHours})`);
  }
  return {
    keyAlgorithm: keyAlgorithm ?? defaults.keyAlgorithm,
    ecdsaCurve: ecdsaCurve ?? defaults.ecdsaCurve,
    rsaBits: rsaBits as PkiSpec["rsaBits"],
    validityHours,
    caValidityHours,
    earlyRenewalHours,
    rotation,
  };
}
