// A throwaway stack of this project on a backend of its own, for benchmarks and integration tests: a
// run that dies leaves no stack behind in the project's state, and disposing removes its lab too.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import type { Stack } from "@pulumi/pulumi/automation";
import { labName } from "../config";
import { projectRoot as root, removeLab } from "./lab";

const project = "real-world-kubernetes";

export interface ThrowawayStack {
  stack: Stack;
  /** Replaces the stack's config (keys without the project prefix). */
  configure: (config: Record<string, unknown>) => void;
  dispose: () => Promise<void>;
}

export async function throwawayStack(name: string): Promise<ThrowawayStack> {
  const lab = labName(name);
  const stackFile = path.join(root, `Pulumi.${name}.yaml`);
  const backend = fs.mkdtempSync(path.join(os.tmpdir(), `rwk-${name}-`));
  await removeLab("machines", lab);
  const configure = (config: Record<string, unknown>) =>
    fs.writeFileSync(
      stackFile,
      yaml.dump({
        config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`${project}:${k}`, v])),
      }),
    );
  configure({});
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: name, workDir: root },
    { envVars: { PULUMI_BACKEND_URL: `file://${backend}` } },
  );
  return {
    stack,
    configure,
    dispose: async () => {
      try {
        await stack.destroy({ color: "never" });
      } finally {
        await removeLab("machines", lab);
        await stack.workspace.removeStack(name, { force: true });
        fs.rmSync(stackFile, { force: true });
        fs.rmSync(backend, { recursive: true, force: true });
      }
    },
  };
}
