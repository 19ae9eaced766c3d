// Helpers for benchmarks: timing, the plain baselines' lab, and the report (stacks: workstation/stack.ts).
import * as path from "path";
import { projectRoot as root, removeLab, run } from "../workstation/lab";

/** The lab of the plain baselines (bench/*-baseline.sh). */
const plainLab = "rwk-bench-plain";

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
