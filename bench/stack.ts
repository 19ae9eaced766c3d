// Helpers for benchmarks: a throwaway stack of this project on a backend of its own, and timing.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import type { Stack } from "@pulumi/pulumi/automation";
import { labName } from "../config";
import { removeLab, run } from "../drills/lab";

export const root = path.resolve(__dirname, "..");
const project = "real-world-kubernetes";
/** The lab of the plain baselines (bench/*-baseline.sh). */
const plainLab = "rwk-bench-plain";

export interface BenchStack {
  stack: Stack;
  /** Replaces the stack's config (keys without the project prefix). */
  configure: (config: Record<string, unknown>) => void;
  dispose: () => Promise<void>;
}

export async function benchStack(name: string): Promise<BenchStack> {
  const lab = labName(name);
  const stackFile = path.join(root, `Pulumi.${name}.yaml`);
  const backend = fs.mkdtempSync(path.join(os.tmpdir(), `rwk-bench-${name}-`));
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

/** Wall time of one call, in seconds. */
export async function seconds(f: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** Wall time of a plain baseline script (bench/<script> <lab>), whose lab is removed afterwards. */
export async function timePlain(script: string, timeoutMs: number): Promise<number> {
  try {
    return await seconds(() => run(["bash", path.join(root, "bench", script), plainLab], { timeoutMs }));
  } finally {
    await removeLab("machines", plainLab);
  }
}

/** Samples as printed beside a median: "[1.0, 2.0]". */
export function samples(xs: number[]): string {
  return `[${xs.map((x) => x.toFixed(1)).join(", ")}]`;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function report(title: string, rows: [string, string][]): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\n${title}\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n")}\n`);
}
