// What ./rwk setup built on this workstation (lab/toolchain/kubernetes.sh): the cluster's binaries, one
// directory per component and version in the cache, which the program copies to the hosts.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

export type Component = "etcd" | "kubernetes" | "crictl" | "cni-plugins" | "coredns";

/** The cache lab/lib.sh's cache_root names: RWK_CACHE, or real-world-kubernetes under XDG's cache. */
export function cacheRoot(): string {
  const xdg = process.env["XDG_CACHE_HOME"] ?? path.join(os.homedir(), ".cache");
  return process.env["RWK_CACHE"] ?? path.join(xdg, "real-world-kubernetes");
}

/** Where a built component's binaries are. */
export function builtDir(component: Component, version: string): string {
  return path.join(cacheRoot(), "kubernetes", `${component}-v${version}`);
}

/** Refuses, before anything is registered, a stack whose binaries are not built, saying how to build them. */
export function requireBuilt(needed: { component: Component; version: string }[]): void {
  const missing = needed.filter((n) => !fs.existsSync(builtDir(n.component, n.version)));
  if (missing.length === 0) return;
  const specs = missing.map((n) => `${n.component}@${n.version}`);
  throw new pulumi.RunError(
    `not built on this workstation: ${specs.join(", ")} (looked in ${path.dirname(builtDir(missing[0]!.component, missing[0]!.version))}); ` +
      `build with: lab/toolchain/kubernetes.sh ${specs.join(" ")} (./rwk up builds what its stack needs)`,
  );
}
