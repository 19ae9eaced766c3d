// Runs a drill for real: each step is a change of the drill's stack config and a real `pulumi up`
// (Automation API, same engine as the CLI), followed by the step's checks, while probes (the etcd writer,
// and whatever the drill adds) record what a client sees. Each run has a throwaway stack of its own
// (workstation/stack.ts): the drill's Pulumi.<drill>.yaml is only read, and a run killed mid-way leaves
// the checkout as it was.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { validateConfig } from "../config";
import type { StackConfig } from "../config";
import { ports } from "../components/etcd/facts";
import { builtDir } from "../components/built";
import { driverScript, Etcdctl, labAccess, projectRoot, run } from "../workstation/lab";
import type { RunResult } from "../workstation/lab";
import { sshRun, writeKeyFile } from "../workstation/ssh";
import { project, pulumiDiagnostics, throwawayStack } from "../workstation/stack";
import { apiClientFiles } from "./api-probe";
import { etcdWriter } from "./probes";
import type { Probe, Sample } from "./probes";
import { renderMarkdown, renderTimeline } from "./report";
import type { DrillRecord, StepRecord } from "./report";
import { clientCertArgs } from "./writer";
import type { WriteRecord } from "./writer";

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
  /** The steps, made afresh for every run: what a drill learns as it goes stays in that run. */
  steps: () => DrillStep[];
  /** Probes beside the etcd writer, made afresh for every run; each gets a lane in the report. */
  probes?: () => Probe[];
}

export interface DrillContext {
  config: StackConfig;
  etcd: Etcdctl;
  /** etcdctl's --cacert/--cert/--key for the operator's client certificate (empty while TLS is off). */
  tlsArgs: string[];
  access: string[];
  outputs: Record<string, unknown>;
  /** Writes recorded so far (the etcd writer probe). */
  writes: () => WriteRecord[];
  /** The etcd key prefix under which the writer puts (and nothing else does). */
  writePrefix: string;
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
  /** What a probe recorded so far, by its name (its lane). */
  samples: (probe: string) => Sample[];
  /** The cluster's own kubectl with the stack's admin kubeconfig (through the lab forward). */
  kubectl: (args: string[], timeoutMs?: number) => Promise<RunResult>;
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

/** A stack config map (Pulumi.<stack>.yaml's `config:`) validated like the program does, defaults included. */
export function effectiveConfig(stack: string, config: Record<string, unknown>): StackConfig {
  const prefix = `${project}:`;
  const raw = Object.fromEntries(
    Object.entries(config)
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => [key.slice(prefix.length), value]),
  );
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
  const base =
    (
      yaml.load(fs.readFileSync(path.join(projectRoot, `Pulumi.${drill.name}.yaml`), "utf8")) as
        { config?: Record<string, unknown> } | undefined
    )?.config ?? {};

  const throwaway = await throwawayStack(drill.name);
  const { stack, lab } = throwaway;
  const record: DrillRecord = {
    drill: drill.name,
    title: drill.title,
    stack: stack.name,
    machine: `${os.hostname()}: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
    startedAt: Date.now(),
    steps: [],
    writes: [],
    lanes: [],
    missing: [],
    expectedLost: [],
    outcome: "failed",
  };
  const writePrefix = `/drill/${stack.name}/`;
  const writer = etcdWriter(`${writePrefix}${Date.now()}/`, drill.writerIntervalMs);
  const probes: Probe[] = [writer, ...(drill.probes?.() ?? [])];
  let probing = false;
  const stopProbes = async () => {
    if (!probing) return;
    probing = false;
    const stopped = await Promise.allSettled(probes.map((p) => p.stop()));
    record.writes = writer.samples();
    record.lanes = probes.slice(1).map((p) => ({ name: p.name, samples: p.samples() }));
    const failed = stopped.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  };
  // The operator's client certificate, once the stack has one; the writer picks it up when it appears.
  const tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-drill-tls-"));
  let current = base;
  let keyFile: string | undefined;
  let previous: DrillContext | undefined;
  try {
    for (const [index, step] of drill.steps().entries()) {
      if (typeof step.set === "function" && !previous)
        throw new Error(`step "${step.title}" needs a step before it`);
      const changes = typeof step.set === "function" ? step.set(previous!) : step.set;
      current = applyChanges(current, changes);
      throwaway.writeConfig(current);
      // A step meant to be refused at preview may be refused by config validation already; its checks
      // then see the stack as the previous step left it.
      let config: StackConfig;
      try {
        config = effectiveConfig(stack.name, current);
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
      const onOutput = (out: string) => {
        stepRecord.output += out;
        log(out);
      };
      try {
        if (step.refresh) await stack.refresh({ onOutput, color: "never" });
        const up = await stack.up({ onOutput, color: "never" });
        stepRecord.changes = up.summary.resourceChanges ?? {};
        if (step.expectUpError)
          throw new Error(`step "${step.title}" should have been refused, but pulumi up succeeded`);
      } catch (e) {
        if (!step.expectUpError || !step.expectUpError.test(String(e))) {
          // The errors first: the whole output (in the log) is mostly progress lines.
          const diagnostics = pulumiDiagnostics(stepRecord.output) || pulumiDiagnostics(String(e));
          if (!diagnostics) throw e;
          const first =
            diagnostics
              .split("\n")
              .find((l) => /error:/.test(l))
              ?.trim() ?? "";
          throw new Error(`step ${index + 1} "${step.title}": pulumi failed: ${first}\n${diagnostics}`, {
            cause: e,
          });
        }
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
      const endpoints = config.hosts.map((h) => `${scheme}://${h.address}:${ports.client}`);
      const ctx: DrillContext = {
        config,
        etcd: new Etcdctl(access, endpoints, scheme === "https" ? tlsArgs : []),
        tlsArgs,
        access,
        outputs,
        writes: () => [...record.writes, ...writer.samples()],
        writePrefix,
        note: (line) => stepRecord.checks.push(line),
        ssh: (host, command) => sshRun(outputs, keyFile!, host, command),
        crash: async (host) => {
          if (config.driver === "ssh") throw new Error("the ssh driver cannot crash your own hosts");
          const r = await run([driverScript(config.driver), "kill", lab, host], { timeoutMs: 60_000 });
          if (r.code !== 0) throw new Error(`crashing ${host} failed: ${r.stderr.trim()}`);
        },
        expectLost: (keys) => record.expectedLost.push(...keys),
        preview: async (changes) => {
          throwaway.writeConfig(applyChanges(current, changes));
          const planned: PlannedStep[] = [];
          try {
            await stack.preview({
              color: "never",
              onEvent: (event) => {
                const m = event.resourcePreEvent?.metadata;
                if (m && m.op !== "same" && m.op !== "read")
                  planned.push({ op: m.op, type: m.type, name: m.urn.split("::").pop() ?? m.urn });
              },
            });
          } finally {
            throwaway.writeConfig(current);
          }
          return planned;
        },
        stateFile: () => path.join(throwaway.backend, ".pulumi", "stacks", project, `${stack.name}.json`),
        samples: (name) => probes.find((p) => p.name === name)?.samples() ?? [],
        kubectl: (args, timeoutMs = 90_000) => {
          const kubeconfig = path.join(tlsDir, "kubeconfig");
          if (!fs.existsSync(kubeconfig)) throw new Error("kubectl: the stack has no kubeconfig output yet");
          const kubectl = path.join(builtDir("kubernetes", config.kubernetes.version), "kubectl");
          return run([kubectl, "--kubeconfig", kubeconfig, ...args], { timeoutMs });
        },
      };
      previous = ctx;
      if (step.check) await step.check(ctx, stepRecord);
      stepRecord.checksEnd = Date.now();
      // Probes start after the first step (the cluster exists by then).
      if (index === 0 && !probing) {
        for (const p of probes) p.start({ access, config, tlsDir });
        probing = true;
        // Let the writer get its first acknowledgements before anything breaks.
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    await stopProbes();
    const final = effectiveConfig(stack.name, current);
    record.missing = await missingWrites(record, final, { lab, tlsDir, writePrefix });
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
    // The drill's own failure is the one to report; a probe that also failed is in its lane.
    await stopProbes().catch(() => undefined);
    throw Object.assign(e instanceof Error ? e : new Error(String(e)), { record });
  } finally {
    const timeline = `${drill.name}.svg`;
    fs.writeFileSync(path.join(reportDir, timeline), renderTimeline(record));
    fs.writeFileSync(path.join(reportDir, `${drill.name}.md`), renderMarkdown(record, timeline));
    fs.writeFileSync(
      path.join(reportDir, `${drill.name}.json`),
      JSON.stringify({ ...record, steps: record.steps.map((s) => ({ ...s, output: undefined })) }, null, 1),
    );
    const teardownStart = Date.now();
    try {
      await throwaway.dispose();
      log(
        `\n=== teardown: pulumi destroy and the lab removed in ${((Date.now() - teardownStart) / 1000).toFixed(0)} s\n`,
      );
    } finally {
      if (keyFile) fs.rmSync(path.dirname(keyFile), { recursive: true, force: true });
      fs.rmSync(tlsDir, { recursive: true, force: true });
    }
  }
  return { record, reportFile: path.join(reportDir, `${drill.name}.md`) };
}

function firstMatch(text: string, re: RegExp): string {
  return re.exec(text)?.[0] ?? re.source;
}

/** Acknowledged writes that the cluster no longer has, read with the real etcdctl. */
async function missingWrites(
  record: DrillRecord,
  config: StackConfig,
  where: { lab: string; tlsDir: string; writePrefix: string },
): Promise<string[]> {
  const { lab, tlsDir, writePrefix } = where;
  const acked = record.writes.filter((w) => w.ok).map((w) => w.key);
  const lost = new Set(record.expectedLost);
  if (acked.length === 0) return [];
  // A drill that ended the cluster on purpose has nothing to read back: each of its acknowledged writes
  // must have been declared lost by then (after being checked while the cluster still served).
  if (config.etcd.members.length === 0) return acked.filter((k) => !lost.has(k));
  const access = labAccess(config.driver, lab);
  const members = config.etcd.members.map((m) => config.hosts.find((h) => h.name === m)!);
  const tls = config.etcd.tls === "on";
  const etcd = new Etcdctl(
    access,
    members.map((h) => `${tls ? "https" : "http"}://${h.address}:${ports.client}`),
    tls ? clientCertArgs(tlsDir) : [],
  );
  const present = await etcd.keys(writePrefix);
  return acked.filter((k) => !present.has(k) && !lost.has(k));
}

/**
 * Writes the operator's certificate and key (0600) for etcdctl, and once the stack has a control plane
 * the admin's kubeconfig and its CA, certificate and key for the API probe; returns etcdctl's TLS
 * arguments.
 */
function writeClientCertificate(outputs: Record<string, unknown>, dir: string): string[] {
  const kubeconfig = outputs["kubeconfig"];
  if (typeof kubeconfig === "string") {
    writeWhole(path.join(dir, "kubeconfig"), kubeconfig, { mode: 0o600 });
    const parsed = yaml.load(kubeconfig) as {
      clusters: { cluster: Record<string, string> }[];
      users: { user: Record<string, string> }[];
    };
    const data = (v: string | undefined) => Buffer.from(v ?? "", "base64");
    writeWhole(
      path.join(dir, apiClientFiles.ca),
      data(parsed.clusters[0]?.cluster["certificate-authority-data"]),
    );
    writeWhole(path.join(dir, apiClientFiles.cert), data(parsed.users[0]?.user["client-certificate-data"]));
    // Written last: the probe takes its presence as the sign that it can call.
    writeWhole(path.join(dir, apiClientFiles.key), data(parsed.users[0]?.user["client-key-data"]), {
      mode: 0o600,
    });
  }
  const [ca, cert, key] = [outputs["etcdCaCert"], outputs["etcdOperatorCert"], outputs["etcdOperatorKey"]];
  if (typeof ca !== "string" || typeof cert !== "string" || typeof key !== "string") return [];
  writeWhole(path.join(dir, "ca.crt"), ca);
  writeWhole(path.join(dir, "client.crt"), cert);
  // Written last: the writer takes its presence as the sign that https is possible.
  writeWhole(path.join(dir, "client.key"), key, { mode: 0o600 });
  return clientCertArgs(dir);
}

/**
 * A file replaced in one step (a sibling written, then renamed over it): the probes read these files on
 * every call while the runner rewrites them after each update, and must never see half of one.
 */
function writeWhole(file: string, content: string | Buffer, opts: { mode?: number } = {}): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, content, { mode: opts.mode ?? 0o644 });
  fs.renameSync(tmp, file);
}
