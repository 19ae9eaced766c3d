// A throwaway stack of this project on a backend of its own, for drills, benchmarks and integration
// tests: a run that dies leaves no stack behind in the project's state, and disposing removes its lab too.
// Its name is `run-<name>`: its Pulumi.run-<name>.yaml is git-ignored, so no run ever writes a tracked
// file (a drill's own Pulumi.<drill>.yaml is only read), and it never shares a lab with a stack a person
// runs by hand.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import type { Stack } from "@pulumi/pulumi/automation";
import { labName } from "../config";
import { projectRoot as root, removeLab } from "./lab";

export const project = "real-world-kubernetes";

/**
 * What an update or a preview changes: its summary without the resources left as they were ("same") and
 * the reads ("read": the program reads the stack's own last outputs on every run).
 */
export function changed(summary: Record<string, number> | undefined): Record<string, number> {
  return Object.fromEntries(
    Object.entries(summary ?? {}).filter(([op, n]) => op !== "same" && op !== "read" && n > 0),
  );
}

export interface ThrowawayStack {
  stack: Stack;
  /** The stack's lab (labName of its name). */
  lab: string;
  /** Where its state lives (a file backend of its own). */
  backend: string;
  /** Replaces the stack's config (keys without the project prefix). */
  configure: (config: Record<string, unknown>) => void;
  /** Replaces the stack's config (keys with the project prefix, as Pulumi.<stack>.yaml holds them). */
  writeConfig: (config: Record<string, unknown>) => void;
  dispose: () => Promise<void>;
}

export async function throwawayStack(name: string): Promise<ThrowawayStack> {
  const stackName = `run-${name}`;
  const lab = labName(stackName);
  const stackFile = path.join(root, `Pulumi.${stackName}.yaml`);
  const backend = fs.mkdtempSync(path.join(os.tmpdir(), `rwk-${stackName}-`));
  // A run that was killed may have left its hosts: this one would trip over them.
  await removeLab("machines", lab);
  const writeConfig = (config: Record<string, unknown>) =>
    fs.writeFileSync(stackFile, yaml.dump({ config }, { lineWidth: 120 }));
  const configure = (config: Record<string, unknown>) =>
    writeConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`${project}:${k}`, v])));
  configure({});
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName, workDir: root },
    { envVars: { PULUMI_BACKEND_URL: `file://${backend}` } },
  );
  return {
    stack,
    lab,
    backend,
    configure,
    writeConfig,
    dispose: async () => {
      try {
        await stack.destroy({ color: "never" });
      } finally {
        // The lab must not outlive the stack, even one whose destroy failed.
        await removeLab("machines", lab);
        await stack.workspace.removeStack(stackName, { force: true });
        fs.rmSync(stackFile, { force: true });
        fs.rmSync(backend, { recursive: true, force: true });
        // A run's backups are its own artifacts; a user's backups (other stacks) are never touched.
        fs.rmSync(path.join(root, "backups", stackName), { recursive: true, force: true });
      }
    },
  };
}

/**
 * The "Diagnostics:" section of a failed `pulumi up`/`refresh`/`destroy` (the errors, by resource), at
 * most `maxLines` lines: what a failed run is about, where the whole output is hundreds of lines of
 * progress.
 */
export function pulumiDiagnostics(output: string, maxLines = 40): string {
  const lines = output.split("\n");
  const start = lines.findIndex((l) => /^Diagnostics:\s*$/.test(l));
  if (start < 0) return "";
  const section: string[] = [];
  for (const line of lines.slice(start + 1)) {
    // The section ends at the next unindented heading (Outputs:, Resources:, Duration:).
    if (/^\S/.test(line)) break;
    section.push(line);
  }
  const text = section.filter((l) => l.trim() !== "");
  return (text.length > maxLines ? [...text.slice(0, maxLines), "  […]"] : text).join("\n");
}
