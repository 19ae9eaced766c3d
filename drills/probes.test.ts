import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { StackConfig } from "../config";
import { ChildProbe } from "./probes";

/** A probe program: a sample every 20 ms, failing every third, until SIGTERM; then it says it is done. */
const program = `
let seq = 0, stopping = false;
process.on("SIGTERM", () => (stopping = true));
const tick = () => {
  if (stopping) { process.stdout.write(JSON.stringify({ done: true }) + "\\n"); return; }
  seq += 1;
  const start = Date.now();
  process.stdout.write(JSON.stringify({ start, end: start + 1, ok: seq % 3 !== 0, seq }) + "\\n");
  setTimeout(tick, 20);
};
tick();
`;

describe("ChildProbe", () => {
  it("collects a child's samples while it runs and all of them once stopped", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-probe-test-"));
    const script = path.join(dir, "probe.js");
    fs.writeFileSync(script, program);
    const probe = new ChildProbe<{ start: number; end: number; ok: boolean; seq: number }>("test", () => [
      script,
    ]);
    probe.start({ access: [], config: {} as StackConfig, tlsDir: dir });
    const deadline = Date.now() + 20_000;
    while (probe.samples().length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await probe.stop();
    const samples = probe.samples();
    expect(samples.length).toBeGreaterThanOrEqual(5);
    expect(samples.map((s) => s.seq)).toEqual(samples.map((_, i) => i + 1));
    expect(samples.filter((s) => !s.ok).map((s) => s.seq % 3)).toEqual(
      samples.filter((s) => !s.ok).map(() => 0),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reports a probe that dies, with what it said", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-probe-test-"));
    const script = path.join(dir, "probe.js");
    fs.writeFileSync(script, 'process.stderr.write("cannot reach the lab\\n"); process.exit(3);');
    const probe = new ChildProbe("dying", () => [script]);
    probe.start({ access: [], config: {} as StackConfig, tlsDir: dir });
    // It dies on its own (ts-node's start takes seconds on a busy machine): wait for that, bounded.
    const deadline = Date.now() + 60_000;
    while (!probe.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await expect(probe.stop()).rejects.toThrow(/probe dying exited 3: cannot reach the lab/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
