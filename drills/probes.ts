// Probes: what a drill measures while it runs, each feeding a lane of the report's timeline. The etcd
// writer is one, the API probe (api-probe.ts) another, the HTTP probe through a Service (http-probe.ts) a
// third.
import { spawn } from "child_process";
import type { ChildProcessWithoutNullStreams } from "child_process";
import * as path from "path";
import type { StackConfig } from "../config";
import { projectRoot } from "../workstation/lab";
import { ports, webNodePort } from "../components/kubernetes/facts";
import type { ApiSample } from "./api-probe";
import type { HttpSample } from "./http-probe";
import type { WriteRecord } from "./writer";

/** One observation: when it was sent and answered, and whether it succeeded (with the error seen). */
export interface Sample {
  start: number;
  end: number;
  ok: boolean;
  error?: string;
}

/** How many of some observations failed, as a report says it: "3 of 1374". */
export function failedOf(observations: { ok: boolean }[]): string {
  return `${observations.filter((o) => !o.ok).length} of ${observations.length}`;
}

/** Where a probe runs: the lab network (a command prefix), the stack's config, the operator's TLS files. */
export interface ProbeEnv {
  access: string[];
  config: StackConfig;
  tlsDir: string;
}

/** Something measured from the end of a drill's first step to its end. */
export interface Probe<S extends Sample = Sample> {
  /** Its lane in the report. */
  readonly name: string;
  start(env: ProbeEnv): void;
  /** What it recorded so far. */
  samples(): S[];
  /** Stops once its in-flight observations are answered. */
  stop(): Promise<void>;
}

/** A probe run as a child process on the lab network that prints one JSON sample per line. */
export class ChildProbe<S extends Sample> implements Probe<S> {
  private recorded: S[] = [];
  private child: ChildProcessWithoutNullStreams | undefined;
  private done: Promise<Error | undefined> | undefined;
  /** The child is gone (finished or died), whether stop() was called yet or not. */
  exited = false;

  constructor(
    readonly name: string,
    /** The probe program and its arguments, run with node and ts-node from the project root. */
    private readonly program: (env: ProbeEnv) => string[],
  ) {}

  start(env: ProbeEnv): void {
    this.exited = false;
    const [script, ...args] = this.program(env);
    const argv = [...env.access, process.execPath, "-r", "ts-node/register/transpile-only", script!, ...args];
    const child = spawn(argv[0]!, argv.slice(1), { cwd: projectRoot, stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    let buffer = "";
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const parsed = JSON.parse(buffer.slice(0, nl)) as S | { done: true };
        buffer = buffer.slice(nl + 1);
        if ("start" in parsed) this.recorded.push(parsed);
      }
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // Settled once the child is gone; a probe that died is reported by stop(), not as an unhandled rejection.
    this.done = new Promise((resolve) => {
      child.on("close", (code) => {
        this.exited = true;
        resolve(
          code === 0 ? undefined : new Error(`probe ${this.name} exited ${String(code)}: ${stderr.trim()}`),
        );
      });
    });
  }

  samples(): S[] {
    return [...this.recorded];
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    // `ip netns exec` passes signals on to the probe, which finishes its in-flight observations.
    this.child.kill("SIGTERM");
    const failed = await this.done;
    this.child = undefined;
    if (failed) throw failed;
  }
}

/** The etcd writer (drills/writer.ts): a put every interval, each recorded with the cluster that acknowledged it. */
export function etcdWriter(prefix: string, intervalMs: number): ChildProbe<WriteRecord> {
  return new ChildProbe<WriteRecord>("etcd writes", (env) => [
    path.join(__dirname, "writer.ts"),
    "--addresses",
    env.config.hosts.map((h) => h.address).join(","),
    "--tls-dir",
    env.tlsDir,
    "--prefix",
    prefix,
    "--interval",
    String(intervalMs),
  ]);
}

/**
 * The API probe (drills/api-probe.ts): a ConfigMap written and read back every interval through the
 * control plane's stable address (the virtual IP, or the first control-plane host's API server), beside a
 * /readyz check, with the admin's certificate.
 */
export function apiProbe(run: string, intervalMs: number): ChildProbe<ApiSample> {
  return new ChildProbe<ApiSample>(apiProbeName, (env) => {
    const host = env.config.hosts.find((h) => h.name === env.config.kubernetes.controlPlane[0]);
    if (!host) throw new Error("the API probe needs a control plane (config controlPlane)");
    return [
      path.join(__dirname, "api-probe.ts"),
      "--server",
      `https://${env.config.kubernetes.apiVirtualIp ?? host.address}:${ports.apiserver}`,
      "--tls-dir",
      env.tlsDir,
      "--run",
      run,
      "--interval",
      String(intervalMs),
    ];
  });
}

export const apiProbeName = "API writes and reads";

/**
 * The HTTP probe (drills/http-probe.ts): a GET of the web Service every interval, from the lab network
 * through a node's NodePort (`via`; the first control-plane host's by default, a host no worker drill
 * stops), as a client outside the cluster sees the Service.
 */
export function httpProbe(intervalMs: number, via?: string): ChildProbe<HttpSample> {
  return new ChildProbe<HttpSample>(httpProbeName, (env) => {
    const name = via ?? env.config.kubernetes.controlPlane[0];
    const host = env.config.hosts.find((h) => h.name === name);
    if (!host) throw new Error("the HTTP probe needs a control plane (config controlPlane)");
    return [
      path.join(__dirname, "http-probe.ts"),
      "--url",
      `http://${host.address}:${webNodePort}/`,
      "--interval",
      String(intervalMs),
    ];
  });
}

export const httpProbeName = "HTTP requests to the web Service";
