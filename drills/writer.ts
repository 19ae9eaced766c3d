// The drill writer: puts a key every interval with the real etcdctl and reports, per write, whether the
// cluster acknowledged it. Runs inside the lab network (see labAccess); one JSON line per write on stdout.
//
//   node -r ts-node/register/transpile-only drills/writer.ts --endpoints URL[,URL] --prefix P \
//     [--interval 100] [--timeout 2000] [--etcdctl-arg ARG]...
import { spawn } from "child_process";

export interface WriteRecord {
  seq: number;
  key: string;
  value: string;
  /** Epoch ms when the put was sent and when it was answered. */
  start: number;
  end: number;
  ok: boolean;
  error?: string;
}

export interface WriterOptions {
  endpoints: string[];
  prefix: string;
  intervalMs: number;
  timeoutMs: number;
  etcdctlArgs: string[];
}

export function parseWriterArgs(argv: string[]): WriterOptions {
  const opts: WriterOptions = {
    endpoints: [],
    prefix: "",
    intervalMs: 100,
    timeoutMs: 2000,
    etcdctlArgs: [],
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1] ?? ""];
    if (flag === "--endpoints") opts.endpoints = value.split(",").filter(Boolean);
    else if (flag === "--prefix") opts.prefix = value;
    else if (flag === "--interval") opts.intervalMs = Number(value);
    else if (flag === "--timeout") opts.timeoutMs = Number(value);
    else if (flag === "--etcdctl-arg") opts.etcdctlArgs.push(value);
    else throw new Error(`writer: unknown argument ${String(flag)}`);
  }
  if (opts.endpoints.length === 0 || !opts.prefix)
    throw new Error("writer: --endpoints and --prefix are required");
  return opts;
}

/** Keys sort in write order: the sequence number is zero-padded. */
export function writeKey(prefix: string, seq: number): string {
  return `${prefix}${String(seq).padStart(7, "0")}`;
}

function put(opts: WriterOptions, seq: number): Promise<WriteRecord> {
  const key = writeKey(opts.prefix, seq);
  const value = new Date().toISOString();
  const start = Date.now();
  const args = [
    `--endpoints=${opts.endpoints.join(",")}`,
    "--dial-timeout=1s",
    `--command-timeout=${opts.timeoutMs}ms`,
    ...opts.etcdctlArgs,
    "put",
    key,
    value,
  ];
  return new Promise((resolve) => {
    const child = spawn("etcdctl", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", (e) =>
      resolve({ seq, key, value, start, end: Date.now(), ok: false, error: e.message }),
    );
    child.on("close", (code) => {
      const ok = code === 0 && out.trim() === "OK";
      const error = ok ? undefined : (err.trim().split("\n").pop() ?? `exit ${String(code)}`);
      resolve({ seq, key, value, start, end: Date.now(), ok, ...(error ? { error } : {}) });
    });
  });
}

async function main(): Promise<void> {
  const opts = parseWriterArgs(process.argv.slice(2));
  const inFlight = new Set<Promise<void>>();
  let seq = 0;
  let stopping = false;
  const emit = (r: WriteRecord) => process.stdout.write(`${JSON.stringify(r)}\n`);
  process.on("SIGTERM", () => (stopping = true));
  process.on("SIGINT", () => (stopping = true));
  while (!stopping) {
    const tick = Date.now();
    seq += 1;
    const p: Promise<void> = put(opts, seq).then((r) => {
      emit(r);
      inFlight.delete(p);
    });
    inFlight.add(p);
    await new Promise((r) => setTimeout(r, Math.max(0, opts.intervalMs - (Date.now() - tick))));
  }
  await Promise.all(inFlight);
  process.stdout.write(`${JSON.stringify({ done: true, writes: seq })}\n`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  });
}
