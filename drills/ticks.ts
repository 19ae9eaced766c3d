// The loop of a probe program (writer.ts, api-probe.ts): one observation started every interval, each
// printed as a JSON line when it is answered (observations may overlap: a slow one does not hold up the
// next), until SIGTERM or SIGINT; then the ones in flight are awaited and a last line says it is done.
// The drill runner reads the lines (probes.ts, ChildProbe).

export async function runTicks<S>(intervalMs: number, observe: (seq: number) => Promise<S>): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let seq = 0;
  let stopping = false;
  process.on("SIGTERM", () => (stopping = true));
  process.on("SIGINT", () => (stopping = true));
  while (!stopping) {
    const started = Date.now();
    seq += 1;
    const p: Promise<void> = observe(seq).then((s) => {
      process.stdout.write(`${JSON.stringify(s)}\n`);
      inFlight.delete(p);
    });
    inFlight.add(p);
    await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - started))));
  }
  await Promise.all(inFlight);
  process.stdout.write(`${JSON.stringify({ done: true, observations: seq })}\n`);
}

/** Runs a probe program's main, printing a failure on stderr with a non-zero exit. */
export function probeMain(main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  });
}
