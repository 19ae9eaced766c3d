// The drill writer: puts a key every interval with the real etcdctl and reports, per write, whether the
// cluster acknowledged it. Runs inside the lab network (see labAccess); one JSON line per write on stdout.
//
//   node -r ts-node/register/transpile-only drills/writer.ts --addresses A[,A...] --prefix P \
//     [--interval 100] [--timeout 2000] [--tls-dir DIR]
//
// Clients of a cluster that is being secured see members switch from http to https one by one, so each
// put goes to the scheme that worked last and falls back to the other: https needs DIR/ca.crt,
// DIR/client.crt and DIR/client.key, which may appear while the writer runs.
import * as fs from "fs";
import { ports } from "../components/etcd/facts";
import * as path from "path";
import { run } from "../workstation/lab";
import { probeMain, runTicks } from "./ticks";

export interface WriteRecord {
  seq: number;
  key: string;
  value: string;
  /** Epoch ms when the put was sent and when it was answered. */
  start: number;
  end: number;
  ok: boolean;
  /** The ID of the cluster that acknowledged the put (from the response header), as a decimal string. */
  cluster?: string;
  error?: string;
}

export interface WriterOptions {
  addresses: string[];
  prefix: string;
  intervalMs: number;
  timeoutMs: number;
  tlsDir?: string;
}

export function parseWriterArgs(argv: string[]): WriterOptions {
  const opts: WriterOptions = { addresses: [], prefix: "", intervalMs: 100, timeoutMs: 2000 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1] ?? ""];
    if (flag === "--addresses") opts.addresses = value.split(",").filter(Boolean);
    else if (flag === "--prefix") opts.prefix = value;
    else if (flag === "--interval") opts.intervalMs = Number(value);
    else if (flag === "--timeout") opts.timeoutMs = Number(value);
    else if (flag === "--tls-dir") opts.tlsDir = value;
    else throw new Error(`writer: unknown argument ${String(flag)}`);
  }
  if (opts.addresses.length === 0 || !opts.prefix)
    throw new Error("writer: --addresses and --prefix are required");
  return opts;
}

export type Scheme = "https" | "http";

/** etcdctl arguments for one attempt: all members on one scheme, with the client certificate for https. */
export function attemptArgs(opts: WriterOptions, scheme: Scheme): string[] {
  const endpoints = opts.addresses.map((a) => `${scheme}://${a}:${ports.client}`).join(",");
  const args = [`--endpoints=${endpoints}`, "--dial-timeout=1s", `--command-timeout=${opts.timeoutMs}ms`];
  if (scheme === "https" && opts.tlsDir) args.push(...clientCertArgs(opts.tlsDir));
  return args;
}

/** etcdctl's TLS arguments for the operator's files in a directory (the runner writes them there). */
export function clientCertArgs(dir: string): string[] {
  return [
    `--cacert=${path.join(dir, "ca.crt")}`,
    `--cert=${path.join(dir, "client.crt")}`,
    `--key=${path.join(dir, "client.key")}`,
  ];
}

function httpsPossible(opts: WriterOptions): boolean {
  return opts.tlsDir !== undefined && fs.existsSync(path.join(opts.tlsDir, "client.key"));
}

/** Keys sort in write order: the sequence number is zero-padded. */
export function writeKey(prefix: string, seq: number): string {
  return `${prefix}${String(seq).padStart(7, "0")}`;
}

/** The cluster ID in the header of etcdctl's JSON output (put, member list): a uint64, kept as text. */
export function headerClusterId(out: string): string | undefined {
  return /"header":\{[^}]*"cluster_id":(\d+)/.exec(out)?.[1];
}

async function etcdctlPut(args: string[]): Promise<{ ok: boolean; cluster?: string; error?: string }> {
  const r = await run(["etcdctl", ...args]).catch((e: unknown) => ({
    code: -1,
    stdout: "",
    stderr: e instanceof Error ? e.message : String(e),
  }));
  const cluster = r.code === 0 ? headerClusterId(r.stdout) : undefined;
  return cluster !== undefined
    ? { ok: true, cluster }
    : { ok: false, error: r.stderr.trim().split("\n").pop() ?? `exit ${String(r.code)}` };
}

let preferred: Scheme = "https";

async function put(opts: WriterOptions, seq: number): Promise<WriteRecord> {
  const key = writeKey(opts.prefix, seq);
  const value = new Date().toISOString();
  const start = Date.now();
  const schemes: Scheme[] = httpsPossible(opts)
    ? [preferred, preferred === "https" ? "http" : "https"]
    : ["http"];
  let error: string | undefined;
  for (const scheme of schemes) {
    const r = await etcdctlPut([...attemptArgs(opts, scheme), "-w", "json", "put", key, value]);
    if (r.ok) {
      preferred = scheme;
      return {
        seq,
        key,
        value,
        start,
        end: Date.now(),
        ok: true,
        ...(r.cluster ? { cluster: r.cluster } : {}),
      };
    }
    error = `${scheme}: ${r.error ?? "failed"}`;
  }
  return { seq, key, value, start, end: Date.now(), ok: false, ...(error ? { error } : {}) };
}

if (require.main === module) {
  probeMain(() => {
    const opts = parseWriterArgs(process.argv.slice(2));
    return runTicks(opts.intervalMs, (seq) => put(opts, seq));
  });
}
