// The HTTP probe: every interval a GET of a Service through a node's NodePort, from the lab network, as a
// client outside the cluster sees it; one JSON line per tick on stdout, naming the pod that answered.
// Each request on a connection of its own, so every tick is routed anew by the node's kube-proxy rules.
//
//   node -r ts-node/register/transpile-only drills/http-probe.ts --url URL [--interval 100] [--timeout 2000]
import * as http from "http";
import type { Sample } from "./probes";
import { probeMain, runTicks } from "./ticks";

export interface HttpSample extends Sample {
  seq: number;
  /** The pod that answered (the web service answers with its pod's name). */
  pod?: string;
}

export interface HttpProbeOptions {
  url: string;
  intervalMs: number;
  /** A client's bound on a request, connecting included. */
  timeoutMs: number;
}

export function parseHttpProbeArgs(argv: string[]): HttpProbeOptions {
  const opts: HttpProbeOptions = { url: "", intervalMs: 100, timeoutMs: 2000 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1] ?? ""];
    if (flag === "--url") opts.url = value;
    else if (flag === "--interval") opts.intervalMs = Number(value);
    else if (flag === "--timeout") opts.timeoutMs = Number(value);
    else throw new Error(`http-probe: unknown argument ${String(flag)}`);
  }
  if (!/^http:\/\/[^/]+\//.test(opts.url))
    throw new Error("http-probe: --url http://HOST:PORT/PATH is required");
  if (!(opts.intervalMs > 0 && opts.timeoutMs > 0))
    throw new Error("http-probe: --interval and --timeout must be positive milliseconds");
  return opts;
}

/** One GET: ok with a 200 and a body, the body (trimmed) being the pod's name. */
export function get(opts: HttpProbeOptions, seq: number): Promise<HttpSample> {
  const start = Date.now();
  return new Promise((resolve) => {
    const done = (s: Omit<HttpSample, "seq" | "start" | "end">) =>
      resolve({ seq, start, end: Date.now(), ...s });
    const req = http.get(opts.url, { agent: false, timeout: opts.timeoutMs }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () =>
        res.statusCode === 200
          ? done({ ok: true, pod: body.trim() })
          : done({ ok: false, error: `HTTP ${String(res.statusCode)}` }),
      );
      res.on("error", (e) => done({ ok: false, error: e.message }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on("error", (e) => done({ ok: false, error: e.message }));
  });
}

if (require.main === module) {
  probeMain(() => {
    const opts = parseHttpProbeArgs(process.argv.slice(2));
    return runTicks(opts.intervalMs, (seq) => get(opts, seq));
  });
}
