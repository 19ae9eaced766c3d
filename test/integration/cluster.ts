// A throwaway stack with Kubernetes on the lab, as the cluster integration tests drive it: updates that
// keep the stack's outputs, and kubectl, SSH and curl with the credentials the stack gives.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { builtDir } from "../../components/built";
import { waitFor } from "../../drills/checks";
import { run } from "../../workstation/lab";
import { sshArgs } from "../../workstation/ssh";
import { pulumiDiagnostics, throwawayStack } from "../../workstation/stack";
import type { ThrowawayStack } from "../../workstation/stack";

/** When each resource's step started and ended during an update, by name (from the engine's events). */
export function stepTimer(): {
  onEvent: (e: EngineEvent) => void;
  /** How long one resource's step took. */
  seconds: (name: string) => number;
  /** From the first start to the last end of the steps of the resources named with this prefix. */
  span: (prefix: string) => number;
} {
  const started = new Map<string, number>();
  const ended = new Map<string, number>();
  const nameOf = (urn: string) => urn.split("::").pop() ?? urn;
  const of = (prefix: string, times: Map<string, number>) =>
    [...times].filter(([name]) => name.startsWith(prefix)).map(([, t]) => t);
  return {
    onEvent: (e) => {
      const pre = e.resourcePreEvent?.metadata;
      if (pre) started.set(nameOf(pre.urn), Date.now());
      const out = e.resOutputsEvent?.metadata;
      if (out) ended.set(nameOf(out.urn), Date.now());
    },
    seconds: (name) => ((ended.get(name) ?? NaN) - (started.get(name) ?? NaN)) / 1000,
    span: (prefix) => (Math.max(...of(prefix, ended)) - Math.min(...of(prefix, started))) / 1000,
  };
}

/** Polls until `check` holds (an error counts as not yet), for at most `seconds`, naming what was awaited. */
export async function until(what: string, seconds: number, check: () => Promise<boolean>): Promise<void> {
  await waitFor(what, seconds * 1000, async () => ((await check().catch(() => false)) ? true : undefined));
}

/** The stack, its last outputs, and files with its SSH key, kubeconfig and the cluster's CA. */
export class ClusterSession {
  public b!: ThrowawayStack;
  public outputs: Record<string, unknown> = {};
  public readonly work: string;
  public readonly keyFile: string;
  public readonly kubeconfig: string;
  public readonly caFile: string;
  private readonly kubectlBin: string;

  constructor(
    private readonly name: string,
    version: string,
  ) {
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), `rwk-${name}-`));
    this.keyFile = path.join(this.work, "id");
    this.kubeconfig = path.join(this.work, "kubeconfig");
    this.caFile = path.join(this.work, "ca.crt");
    this.kubectlBin = path.join(builtDir("kubernetes", version), "kubectl");
  }

  get stack(): Stack {
    return this.b.stack;
  }

  async open(config: Record<string, unknown>): Promise<void> {
    this.b = await throwawayStack(this.name);
    this.b.configure(config);
  }

  async dispose(): Promise<void> {
    try {
      await this.b.dispose();
    } finally {
      fs.rmSync(this.work, { recursive: true, force: true });
    }
  }

  /** `pulumi up`; keeps the outputs and writes the credentials they hold. Returns the change counts. */
  async up(onEvent?: (e: EngineEvent) => void): Promise<Record<string, number>> {
    const result = await this.stack
      .up({ color: "never", ...(onEvent ? { onEvent } : {}) })
      .catch((e: unknown) => {
        // The errors first: the whole output is mostly progress lines.
        const diagnostics = pulumiDiagnostics(String(e));
        throw diagnostics ? new Error(`pulumi up failed:\n${diagnostics}`, { cause: e }) : e;
      });
    this.outputs = Object.fromEntries(
      Object.entries(await this.stack.outputs()).map(([k, v]) => [k, v.value as unknown]),
    );
    fs.writeFileSync(this.keyFile, `${String(this.outputs["sshPrivateKey"])}\n`, { mode: 0o600 });
    const kubeconfig = this.outputs["kubeconfig"];
    if (typeof kubeconfig === "string") {
      fs.writeFileSync(this.kubeconfig, kubeconfig, { mode: 0o600 });
      const ca = /certificate-authority-data: (\S+)/.exec(kubeconfig)![1]!;
      fs.writeFileSync(this.caFile, Buffer.from(ca, "base64"));
    }
    return result.summary.resourceChanges ?? {};
  }

  /** kubectl with the stack's kubeconfig; throws with its output when it fails. */
  async kubectl(...args: string[]): Promise<string> {
    const r = await run(
      [this.kubectlBin, "--kubeconfig", this.kubeconfig, "--request-timeout=20s", ...args],
      {
        timeoutMs: 60_000,
      },
    );
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  }

  /** kubectl with stdin (apply -f -), as run() returns it. */
  kubectlWithInput(input: string, ...args: string[]): ReturnType<typeof run> {
    return run([this.kubectlBin, "--kubeconfig", this.kubeconfig, ...args], { timeoutMs: 120_000, input });
  }

  async sshOk(host: string, command: string, input?: string): Promise<string> {
    const r = await run([...sshArgs(this.outputs, this.keyFile, host), command], {
      timeoutMs: 60_000,
      ...(input === undefined ? {} : { input }),
    });
    if (r.code !== 0) throw new Error(`ssh ${host} ${command}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  }

  /** An HTTP status code from the API server through the stack's forward, with curl's own TLS. */
  async httpCode(urlPath: string, client?: { cert: string; key: string }): Promise<string> {
    const r = await run(
      [
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
        "--cacert",
        this.caFile,
        ...(client ? ["--cert", client.cert, "--key", client.key] : []),
        `${String(this.outputs["apiServer"])}${urlPath}`,
      ],
      { timeoutMs: 20_000 },
    );
    return r.stdout.trim();
  }
}
