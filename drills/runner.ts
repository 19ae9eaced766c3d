// Runs a drill for real: each step is a change of the drill's stack config and a real `pulumi up`
// (Automation API, same engine as the CLI), followed by the step's checks, while a writer keeps putting
// keys and records which ones the cluster acknowledged.
import { spawn } from "child_process";
import type { ChildProcessWithoutNullStreams } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { labName, validateConfig } from "../config";
import type { StackConfig } from "../config";
import { driverScript, Etcdctl, labAccess, projectRoot, removeLab, run } from "./lab";
import type { RunResult } from "./lab";
import { renderMarkdown, renderTimeline } from "./report";
import type { DrillRecord, StepRecord } from "./report";
import { clientCertArgs } from "./writer";
import type { WriteRecord } from "./writer";

const project = "real-world-kubernetes";

/** Config changes of a step: a top-level key, or a dotted path into an object (hostStates.core-01). */
export type ConfigChanges = Record<string, unknown>;

export interface DrillStep {
  title: string;
  /** The step's config changes; a function gets the previous step's context (e.g. its outputs). */
  set: ConfigChanges | ((previous: DrillContext) => ConfigChanges);
  /** Checks after the step's `pulumi up`; each returns a line for the report or throws. */
  check?: (ctx: DrillContext, step: StepRecord) => Promise<void>;
  /** The step's `pulumi up` is expected to fail (a refused change); the error must match. */
  expectUpError?: RegExp;
  /** `pulumi refresh` before the step's up: the stack learns what happened behind its back (a crash). */
  refresh?: boolean;
}

export interface Drill {
  name: string;
  title: string;
  /** Writer cadence; the workshop's recovery writer puts once a second. */
  writerIntervalMs: number;
  steps: DrillStep[];
}

export interface DrillContext {
  config: StackConfig;
  etcd: Etcdctl;
  /** etcdctl's --cacert/--cert/--key for the operator's client certificate (empty while TLS is off). */
  tlsArgs: string[];
  access: string[];
  outputs: Record<string, unknown>;
  /** Writes recorded so far. */
  writes: () => WriteRecord[];
  /** Records a passed check in the report. */
  note: (line: string) => void;
  /** Runs a command on a lab host over SSH as root. */
  ssh: (host: string, command: string) => Promise<RunResult>;
  /** Crashes a lab host behind Pulumi's back: every process of it killed at once (the driver's `kill`). */
  crash: (host: string) => Promise<void>;
  /** Keys the drill expects to lose (acknowledged after a backup that is then restored). */
  expectLost: (keys: string[]) => void;
  /** What `pulumi preview` would do for these config changes (the stack's config is left as it was). */
  preview: (changes: ConfigChanges) => Promise<PlannedStep[]>;
  /** The stack's state file as the backend stores it. */
  stateFile: () => string;
}

/** One step of a preview: the operation and the resource it applies to. */
export interface PlannedStep {
  op: string;
  type: string;
  name: string;
}

/** Applies a step's changes to a stack's config map (Pulumi.<stack>.yaml's `config:`). */
export function applyChanges(
  config: Record<string, unknown>,
  changes: ConfigChanges,
): Record<string, unknown> {
  const next = structuredClone(config);
  for (const [key, value] of Object.entries(changes)) {
    const [top, ...rest] = key.split(".");
    const full = `${project}:${top ?? key}`;
    if (rest.length === 0) {
      if (value === undefined) delete next[full];
      else next[full] = value;
      continue;
    }
    const obj = (typeof next[full] === "object" && next[full] !== null ? next[full] : {}) as Record<
      string,
      unknown
    >;
    obj[rest.join(".")] = value;
    next[full] = obj;
  }
  return next;
}

/** The same changes as the `pulumi config` commands a user would type to walk the drill by hand. */
export function changeCommands(changes: ConfigChanges): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) out.push(`pulumi config rm ${key}`);
    else if (Array.isArray(value)) {
      out.push(`pulumi config rm ${key}`);
      value.forEach((v, i) => out.push(`pulumi config set --path '${key}[${i}]' ${scalar(v)}`));
    } else if (key.includes(".")) out.push(`pulumi config set --path ${key} ${scalar(value)}`);
    else out.push(`pulumi config set ${key} ${scalar(value)}`);
  }
  return out;
}

function scalar(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Reads Pulumi.yaml's defaults merged with a stack config map, validated like the program does. */
export function effectiveConfig(stack: string, config: Record<string, unknown>): StackConfig {
  const file = yaml.load(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")) as {
    config: Record<string, { default?: unknown }>;
  };
  const raw: Record<string, unknown> = {};
  for (const [key, decl] of Object.entries(file.config)) {
    raw[key] = `${project}:${key}` in config ? config[`${project}:${key}`] : decl.default;
  }
  return validateConfig(raw, { project, stack });
}

export interface RunOptions {
  /** Where reports go (default reports/). */
  reportDir?: string;
  /** Log of every `pulumi up` (default: <reportDir>/<drill>.log). */
  log?: (line: string) => void;
}

export interface DrillResult {
  record: DrillRecord;
  reportFile: string;
}

export async function runDrill(drill: Drill, opts: RunOptions = {}): Promise<DrillResult> {
  const reportDir = opts.reportDir ?? path.join(projectRoot, "reports");
  fs.mkdirSync(reportDir, { recursive: true });
  const logFile = path.join(reportDir, `${drill.name}.log`);
  fs.writeFileSync(logFile, "");
  const log = opts.log ?? ((line: string) => fs.appendFileSync(logFile, line));
  const stackFile = path.join(projectRoot, `Pulumi.${drill.name}.yaml`);
  const original = fs.readFileSync(stackFile, "utf8");
  const base = (yaml.load(original) as { config?: Record<string, unknown> } | undefined)?.config ?? {};

  // A state backend of the run's own: a drill that dies half-way leaves no stack in the project's state.
  const backend = fs.mkdtempSync(path.join(os.tmpdir(), `rwk-drill-${drill.name}-`));
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: drill.name, workDir: projectRoot },
    { envVars: { PULUMI_BACKEND_URL: `file://${backend}` } },
  );
  const record: DrillRecord = {
    drill: drill.name,
    title: drill.title,
    stack: drill.name,
    machine: `${os.hostname()}: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
    startedAt: Date.now(),
    steps: [],
    writes: [],
    missing: [],
    expectedLost: [],
    outcome: "failed",
  };
  const writer = new WriterProcess();
  const lab = labName(drill.name);
  // The operator's client certificate, once the stack has one; the writer picks it up when it appears.
  const tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-drill-tls-"));
  let current = base;
  let keyFile: string | undefined;
  let previous: DrillContext | undefined;
  try {
    // A previous run that died half-way must not leave hosts behind that this run would trip over.
    await stack.destroy({ onOutput: log, color: "never" });
    for (const [index, step] of drill.steps.entries()) {
      if (typeof step.set === "function" && !previous)
        throw new Error(`step "${step.title}" needs a step before it`);
      const changes = typeof step.set === "function" ? step.set(previous!) : step.set;
      current = applyChanges(current, changes);
      fs.writeFileSync(stackFile, yaml.dump({ config: current }, { lineWidth: 120 }));
      // A step meant to be refused at preview may be refused by config validation already; its checks
      // then see the stack as the previous step left it.
      let config: StackConfig;
      try {
        config = effectiveConfig(drill.name, current);
      } catch (e) {
        if (!step.expectUpError || !previous) throw e;
        config = previous.config;
      }
      const stepRecord: StepRecord = {
        title: step.title,
        commands: changeCommands(changes),
        upStart: Date.now(),
        upEnd: 0,
        checksEnd: 0,
        changes: {},
        output: "",
        checks: [],
      };
      record.steps.push(stepRecord);
      log(`\n=== step ${index + 1}: ${step.title}\n`);
      try {
        if (step.refresh) {
          await stack.refresh({
            onOutput: (out) => {
              stepRecord.output += out;
              log(out);
            },
            color: "never",
          });
        }
        const up = await stack.up({
          onOutput: (out) => {
            stepRecord.output += out;
            log(out);
          },
          color: "never",
        });
        stepRecord.changes = up.summary.resourceChanges ?? {};
        if (step.expectUpError)
          throw new Error(`step "${step.title}" should have been refused, but pulumi up succeeded`);
      } catch (e) {
        if (!step.expectUpError || !step.expectUpError.test(String(e))) throw e;
        stepRecord.checks.push(
          `\`pulumi up\` was refused as expected: ${firstMatch(String(e), step.expectUpError)}`,
        );
      }
      stepRecord.upEnd = Date.now();
      const outputs = Object.fromEntries(
        Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value as unknown]),
      );
      keyFile ??= writeKeyFile(outputs["sshPrivateKey"]);
      const tlsArgs = writeClientCertificate(outputs, tlsDir);
      const access = labAccess(config.driver, lab);
      const scheme = config.etcd.tls === "on" ? "https" : "http";
      const endpoints = config.hosts.map((h) => `${scheme}://${h.address}:2379`);
      const addresses = config.hosts.map((h) => h.address);
      const ctx: DrillContext = {
        config,
        etcd: new Etcdctl(access, endpoints, scheme === "https" ? tlsArgs : []),
        tlsArgs,
        access,
        outputs,
        writes: () => [...record.writes, ...writer.records],
        note: (line) => stepRecord.checks.push(line),
        ssh: (host, command) => sshRun(outputs, keyFile!, host, command),
        crash: async (host) => {
          if (config.driver === "ssh") throw new Error("the ssh driver cannot crash your own hosts");
          const r = await run([driverScript(config.driver), "kill", lab, host], { timeoutMs: 60_000 });
          if (r.code !== 0) throw new Error(`crashing ${host} failed: ${r.stderr.trim()}`);
        },
        expectLost: (keys) => record.expectedLost.push(...keys),
        preview: async (changes) => {
          fs.writeFileSync(
            stackFile,
            yaml.dump({ config: applyChanges(current, changes) }, { lineWidth: 120 }),
          );
          const planned: PlannedStep[] = [];
          try {
            await stack.preview({
              color: "never",
              onEvent: (event) => {
                const m = event.resourcePreEvent?.metadata;
                if (m && m.op !== "same")
                  planned.push({ op: m.op, type: m.type, name: m.urn.split("::").pop() ?? m.urn });
              },
            });
          } finally {
            fs.writeFileSync(stackFile, yaml.dump({ config: current }, { lineWidth: 120 }));
          }
          return planned;
        },
        stateFile: () => path.join(backend, ".pulumi", "stacks", project, `${drill.name}.json`),
      };
      previous = ctx;
      if (step.check) await step.check(ctx, stepRecord);
      stepRecord.checksEnd = Date.now();
      // The writer starts after the first step (the cluster exists by then).
      if (index === 0 && !writer.running) {
        writer.start(
          access,
          addresses,
          tlsDir,
          `/drill/${drill.name}/${Date.now()}/`,
          drill.writerIntervalMs,
        );
        // Let the writer get its first acknowledgements before anything breaks.
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    record.writes.push(...(await writer.stop()));
    const final = effectiveConfig(drill.name, current);
    record.missing = await missingWrites(record, final, tlsDir);
    if (record.missing.length > 0) {
      const missing = new Set(record.missing);
      const first = record.writes
        .filter((w) => missing.has(w.key))
        .slice(0, 3)
        .map(
          (w) => `${w.key} (acknowledged ${new Date(w.end).toISOString()} by cluster ${w.cluster ?? "?"})`,
        );
      throw new Error(`${record.missing.length} acknowledged writes are missing, first ${first.join(", ")}`);
    }
    record.outcome = "passed";
  } catch (e) {
    record.error = e instanceof Error ? e.message.split("\n")[0] : String(e);
    // A step that failed half-way ends where the failure was noticed.
    for (const s of record.steps) {
      s.upEnd ||= Date.now();
      s.checksEnd ||= Date.now();
    }
    record.writes.push(...(await writer.stop()));
    throw Object.assign(e instanceof Error ? e : new Error(String(e)), { record });
  } finally {
    const timeline = `${drill.name}.svg`;
    fs.writeFileSync(path.join(reportDir, timeline), renderTimeline(record));
    fs.writeFileSync(path.join(reportDir, `${drill.name}.md`), renderMarkdown(record, timeline));
    fs.writeFileSync(
      path.join(reportDir, `${drill.name}.json`),
      JSON.stringify({ ...record, steps: record.steps.map((s) => ({ ...s, output: undefined })) }, null, 1),
    );
    try {
      await stack.destroy({ onOutput: log, color: "never" });
    } catch (e) {
      // The lab must not outlive a drill, even one whose destroy failed: tear it down at the driver level.
      log(`\n=== destroy failed (${String(e).split("\n")[0]}); removing lab ${lab} directly\n`);
      const driver = effectiveConfig(drill.name, current).driver;
      if (driver !== "ssh") await removeLab(driver, lab);
    } finally {
      await stack.workspace.removeStack(drill.name, { force: true });
      fs.writeFileSync(stackFile, original);
      if (keyFile) fs.rmSync(path.dirname(keyFile), { recursive: true, force: true });
      fs.rmSync(tlsDir, { recursive: true, force: true });
      fs.rmSync(backend, { recursive: true, force: true });
      // A drill's backups are its own artifacts; a user's backups (other stacks) are never touched.
      fs.rmSync(path.join(projectRoot, "backups", drill.name), { recursive: true, force: true });
    }
  }
  return { record, reportFile: path.join(reportDir, `${drill.name}.md`) };
}

function firstMatch(text: string, re: RegExp): string {
  return re.exec(text)?.[0] ?? re.source;
}

/** Acknowledged writes that the cluster no longer has, read with the real etcdctl. */
async function missingWrites(record: DrillRecord, config: StackConfig, tlsDir: string): Promise<string[]> {
  const acked = record.writes.filter((w) => w.ok).map((w) => w.key);
  const lost = new Set(record.expectedLost);
  if (acked.length === 0) return [];
  // A drill that ended the cluster on purpose has nothing to read back: each of its acknowledged writes
  // must have been declared lost by then (after being checked while the cluster still served).
  if (config.etcd.members.length === 0) return acked.filter((k) => !lost.has(k));
  const access = labAccess(config.driver, labName(record.stack));
  const members = config.etcd.members.map((m) => config.hosts.find((h) => h.name === m)!);
  const tls = config.etcd.tls === "on";
  const etcd = new Etcdctl(
    access,
    members.map((h) => `${tls ? "https" : "http"}://${h.address}:2379`),
    tls ? clientCertArgs(tlsDir) : [],
  );
  const present = await etcd.keys(`/drill/${record.drill}/`);
  return acked.filter((k) => !present.has(k) && !lost.has(k));
}

/** Writes the operator's certificate and key (0600) for etcdctl; returns its TLS arguments. */
function writeClientCertificate(outputs: Record<string, unknown>, dir: string): string[] {
  const [ca, cert, key] = [outputs["etcdCaCert"], outputs["etcdOperatorCert"], outputs["etcdOperatorKey"]];
  if (typeof ca !== "string" || typeof cert !== "string" || typeof key !== "string") return [];
  fs.writeFileSync(path.join(dir, "ca.crt"), ca);
  fs.writeFileSync(path.join(dir, "client.crt"), cert);
  // Written last: the writer takes its presence as the sign that https is possible.
  fs.writeFileSync(path.join(dir, "client.key"), key, { mode: 0o600 });
  return clientCertArgs(dir);
}

function writeKeyFile(key: unknown): string | undefined {
  if (typeof key !== "string" || key === "") return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-drill-"));
  const file = path.join(dir, "id");
  fs.writeFileSync(file, key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
  return file;
}

/** SSH to a lab host the way the engine does (same key, same endpoint), for checks only. */
export function sshArgs(outputs: Record<string, unknown>, keyFile: string, host: string): string[] {
  const hosts = outputs["hosts"] as Record<string, { ssh: { host: string; port: number; user: string } }>;
  const target = hosts[host]?.ssh;
  if (!target) throw new Error(`no host ${host} in the stack outputs`);
  return [
    "ssh",
    "-i",
    keyFile,
    "-p",
    String(target.port),
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "BatchMode=yes",
    `${target.user}@${target.host}`,
  ];
}

function sshRun(
  outputs: Record<string, unknown>,
  keyFile: string,
  host: string,
  command: string,
): Promise<RunResult> {
  return run([...sshArgs(outputs, keyFile, host), command], { timeoutMs: 60_000 });
}

/** The writer, as a child process on the lab network. */
class WriterProcess {
  records: WriteRecord[] = [];
  private child: ChildProcessWithoutNullStreams | undefined;
  private done: Promise<void> | undefined;

  get running(): boolean {
    return this.child !== undefined;
  }

  start(access: string[], addresses: string[], tlsDir: string, prefix: string, intervalMs: number): void {
    this.records = [];
    const argv = [
      ...access,
      process.execPath,
      "-r",
      "ts-node/register/transpile-only",
      path.join(__dirname, "writer.ts"),
      "--addresses",
      addresses.join(","),
      "--tls-dir",
      tlsDir,
      "--prefix",
      prefix,
      "--interval",
      String(intervalMs),
    ];
    const child = spawn(argv[0]!, argv.slice(1), { cwd: projectRoot, stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    let buffer = "";
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const parsed = JSON.parse(line) as WriteRecord | { done: true };
        if ("seq" in parsed) this.records.push(parsed);
      }
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    this.done = new Promise((resolve, reject) => {
      child.on("close", (code) =>
        code === 0 ? resolve() : reject(new Error(`writer exited ${String(code)}: ${stderr}`)),
      );
    });
  }

  /** Stops the writer after its in-flight writes are answered; returns everything it recorded. */
  async stop(): Promise<WriteRecord[]> {
    if (!this.child) return [];
    // `ip netns exec` passes signals on to the writer, which finishes its in-flight writes.
    this.child.kill("SIGTERM");
    await this.done;
    this.child = undefined;
    const out = this.records;
    this.records = [];
    return out;
  }
}
