// What a stack needs built on the workstation before `pulumi up`: its etcd release and, once it has
// Kubernetes roles, its Kubernetes release, the container tools and the cluster's images. Prints
// component@version specs: images@<kubernetes version> for lab/images/oci/build-images.sh, the others for
// lab/toolchain/kubernetes.sh; `./rwk up <stack>` builds exactly these.
//
//   npx ts-node --transpile-only workstation/needed.ts <stack>
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { validateConfig } from "../config";
import type { StackConfig } from "../config";
import { cluster } from "../versions.json";
import { projectRoot } from "./lab";
import { project } from "./stack";

/** The builds a validated stack config needs. Pure, for tests. */
export function neededBuilds(config: StackConfig): string[] {
  const specs = [`etcd@${config.etcd.version}`];
  if (config.kubernetes.controlPlane.length + config.kubernetes.workers.length > 0) {
    specs.push(
      `kubernetes@${config.kubernetes.version}`,
      `crictl@${cluster.crictl}`,
      `cni-plugins@${cluster.cniPlugins}`,
      `images@${config.kubernetes.version}`,
    );
  }
  return specs;
}

function main(): void {
  const stack = process.argv[2] ?? "dev";
  const file = path.join(projectRoot, `Pulumi.${stack}.yaml`);
  const config = fs.existsSync(file)
    ? ((yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | undefined)
        ?.config ?? {})
    : {};
  const prefix = `${project}:`;
  const raw = Object.fromEntries(
    Object.entries(config)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
  process.stdout.write(`${neededBuilds(validateConfig(raw, { project, stack })).join("\n")}\n`);
}

if (require.main === module) main();
