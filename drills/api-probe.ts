// The API probe: every interval a write through the Kubernetes API server (a new ConfigMap, so each
// acknowledged write can be found again afterwards) and a read of it, beside a /readyz check; one JSON
// line per tick on stdout. Runs inside the lab network (see labAccess) with the admin's client
// certificate, which the drill runner writes into DIR once the stack has a control plane.
//
//   node -r ts-node/register/transpile-only drills/api-probe.ts --server URL --tls-dir DIR --run ID \
//     [--interval 100] [--timeout 10000]
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import type { Sample } from "./probes";
import { probeMain, runTicks } from "./ticks";

export interface ApiSample extends Sample {
  seq: number;
  /** The ConfigMap written (default namespace), once the write was acknowledged. */
  name?: string;
  writeMs?: number;
  readMs?: number;
  /** Whether /readyz answered ok in this tick. */
  ready: boolean;
}

export interface ApiProbeOptions {
  server: string;
  tlsDir: string;
  run: string;
  intervalMs: number;
  /** A client's own bound on a call; the API server is asked to give up first (?timeout). */
  timeoutMs: number;
}

export function parseApiProbeArgs(argv: string[]): ApiProbeOptions {
  const opts: ApiProbeOptions = { server: "", tlsDir: "", run: "", intervalMs: 100, timeoutMs: 10_000 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1] ?? ""];
    if (flag === "--server") opts.server = value;
    else if (flag === "--tls-dir") opts.tlsDir = value;
    else if (flag === "--run") opts.run = value;
    else if (flag === "--interval") opts.intervalMs = Number(value);
    else if (flag === "--timeout") opts.timeoutMs = Number(value);
    else throw new Error(`api-probe: unknown argument ${String(flag)}`);
  }
  if (!opts.server || !opts.tlsDir || !/^[a-z0-9-]{1,40}$/.test(opts.run))
    throw new Error("api-probe: --server, --tls-dir and --run (lower-case letters, digits, -) are required");
  return opts;
}

/** The files the drill runner writes for the probe: the Kubernetes CA and the admin's certificate. */
export const apiClientFiles = { ca: "k8s-ca.crt", cert: "k8s-client.crt", key: "k8s-client.key" } as const;

/** The label that marks a run's ConfigMaps, and their names: sortable by write order. */
export const probeLabel = "real-world-kubernetes/api-probe";
export function probeObjectName(run: string, seq: number): string {
  return `rwk-probe-${run}-${String(seq).padStart(6, "0")}`;
}

interface Reply {
  status: number;
  body: string;
}

function request(
  opts: ApiProbeOptions,
  tls: { ca: Buffer; cert: Buffer; key: Buffer },
  method: string,
  urlPath: string,
  body?: unknown,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      new URL(urlPath, opts.server),
      {
        method,
        ...tls,
        // Each call on a connection of its own: what a client sees when the API server's host is gone,
        // not a pooled connection's leftovers.
        agent: false,
        headers: { accept: "application/json", ...(payload ? { "content-type": "application/json" } : {}) },
        timeout: opts.timeoutMs,
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** What a client would show for a failed call: the API's Status message, or the transport's error. */
export function describeFailure(reply: Reply | Error): string {
  if (reply instanceof Error) return reply.message;
  try {
    const status = JSON.parse(reply.body) as { message?: string };
    if (status.message) return `HTTP ${reply.status}: ${status.message}`;
  } catch {
    // not a Status object
  }
  return `HTTP ${reply.status}: ${reply.body.trim().slice(0, 200)}`;
}

async function tick(opts: ApiProbeOptions, seq: number): Promise<ApiSample> {
  const start = Date.now();
  const files = Object.fromEntries(
    Object.entries(apiClientFiles).map(([k, f]) => [k, path.join(opts.tlsDir, f)]),
  ) as Record<keyof typeof apiClientFiles, string>;
  if (!fs.existsSync(files.key))
    return { seq, start, end: Date.now(), ok: false, ready: false, error: "no client certificate yet" };
  const tls = {
    ca: fs.readFileSync(files.ca),
    cert: fs.readFileSync(files.cert),
    key: fs.readFileSync(files.key),
  };
  const serverTimeout = `timeout=${Math.max(1, Math.floor(opts.timeoutMs / 2000))}s`;
  const ready = request(opts, tls, "GET", "/readyz")
    .then((r) => r.status === 200 && r.body.trim() === "ok")
    .catch(() => false);
  const name = probeObjectName(opts.run, seq);
  const base = "/api/v1/namespaces/default/configmaps";
  const sample: ApiSample = { seq, start, end: 0, ok: false, ready: false };
  try {
    const w = await request(opts, tls, "POST", `${base}?${serverTimeout}`, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, labels: { [probeLabel]: opts.run } },
      data: { seq: String(seq), at: new Date(start).toISOString() },
    });
    sample.writeMs = Date.now() - start;
    if (w.status !== 201) throw new Error(describeFailure(w));
    sample.name = name;
    const readStart = Date.now();
    const r = await request(opts, tls, "GET", `${base}/${name}?${serverTimeout}`);
    sample.readMs = Date.now() - readStart;
    if (r.status !== 200) throw new Error(describeFailure(r));
    const read = JSON.parse(r.body) as { data?: { seq?: string } };
    if (read.data?.seq !== String(seq))
      throw new Error(`read back seq ${String(read.data?.seq)}, wrote ${seq}`);
    sample.ok = true;
  } catch (e) {
    sample.error = e instanceof Error ? e.message : String(e);
  }
  sample.ready = await ready;
  sample.end = Date.now();
  return sample;
}

if (require.main === module) {
  probeMain(() => {
    const opts = parseApiProbeArgs(process.argv.slice(2));
    return runTicks(opts.intervalMs, (seq) => tick(opts, seq));
  });
}
