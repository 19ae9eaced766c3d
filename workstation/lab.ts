// How the workstation reaches the lab network, and the real etcdctl run from there.
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { Driver } from "../config";

export const projectRoot = path.resolve(__dirname, "..");

/**
 * The command prefix that puts a workstation command on the lab network. The local drivers' addresses
 * exist only inside the lab's switch namespace (for vagrant, where libvirt's network lives); your own
 * (ssh driver) hosts are reachable directly.
 */
export function labAccess(driver: Driver, lab: string): string[] {
  return driver === "ssh" ? [] : ["ip", "netns", "exec", `${lab}-sw`];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion (bounded), never through a shell. */
export function run(argv: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) {
      reject(new Error("empty command"));
      return;
    }
    const child = spawn(cmd, args, { stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
    child.on("error", reject);
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started });
    });
    if (opts.input !== undefined && child.stdin) {
      // A command that exits before reading its input closes the pipe: that is not an error of ours.
      child.stdin.on("error", () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

export interface EtcdMember {
  id: string;
  status: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  learner: boolean;
}

/** Parses `etcdctl member list -w simple` (IDs stay hex strings: JSON output would lose their precision). */
export function parseMemberList(text: string): EtcdMember[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((line) => {
      const [id = "", status = "", name = "", peers = "", clients = "", learner = "false"] = line.split(", ");
      const list = (s: string) => (s ? s.split(",") : []);
      return {
        id,
        status,
        name,
        peerUrls: list(peers),
        clientUrls: list(clients),
        learner: learner.trim() === "true",
      };
    });
}

/** One endpoint's `etcdctl endpoint status`: IDs as etcd prints them (64-bit, so kept as text). */
export interface EndpointStatus {
  endpoint: string;
  memberId: string;
  leader: string;
  revision: number;
  /** The etcd release the member runs. */
  version: string;
}

/** Parses `etcdctl endpoint status -w fields` (one block of `"Key" : value` lines per endpoint). */
export function parseEndpointStatus(text: string): EndpointStatus[] {
  const out: EndpointStatus[] = [];
  let current: Partial<Record<string, string>> = {};
  const flush = () => {
    if (current["Endpoint"] !== undefined) {
      out.push({
        endpoint: current["Endpoint"],
        memberId: current["MemberID"] ?? "",
        leader: current["Leader"] ?? "",
        revision: Number(current["Revision"] ?? 0),
        version: current["Version"] ?? "",
      });
    }
    current = {};
  };
  for (const line of text.split("\n")) {
    const m = /^"(\w+)" : "?([^"]*)"?$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === "ClusterID") flush();
    current[m[1]!] = m[2]!;
  }
  flush();
  return out;
}

/** The real etcdctl (v3 API), run where it can reach the cluster. */
export class Etcdctl {
  constructor(
    private readonly access: string[],
    private readonly endpoints: string[],
    private readonly tlsArgs: string[] = [],
  ) {}

  argv(args: string[], endpoints = this.endpoints): string[] {
    return [
      ...this.access,
      "etcdctl",
      `--endpoints=${endpoints.join(",")}`,
      "--dial-timeout=2s",
      "--command-timeout=5s",
      ...this.tlsArgs,
      ...args,
    ];
  }

  async exec(args: string[], endpoints?: string[]): Promise<RunResult> {
    return run(this.argv(args, endpoints), { timeoutMs: 20_000 });
  }

  async ok(args: string[], endpoints?: string[]): Promise<string> {
    const r = await this.exec(args, endpoints);
    if (r.code !== 0)
      throw new Error(`etcdctl ${args.join(" ")} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  async memberList(): Promise<EtcdMember[]> {
    return parseMemberList(await this.ok(["member", "list", "-w", "simple"]));
  }

  /** Health of each given endpoint, as `etcdctl endpoint health` reports it. */
  async health(endpoints = this.endpoints): Promise<Record<string, boolean>> {
    const out: Record<string, boolean> = {};
    await Promise.all(
      endpoints.map(async (e) => {
        const r = await this.exec(["endpoint", "health"], [e]);
        // etcdctl 3.4 prints the verdict on stderr.
        out[e] = r.code === 0 && `${r.stdout}${r.stderr}`.includes("is healthy");
      }),
    );
    return out;
  }

  /** Status of each endpoint that answers (those that do not are left out). */
  async status(endpoints = this.endpoints): Promise<EndpointStatus[]> {
    const all = await Promise.all(
      endpoints.map(async (e) => {
        const r = await this.exec(["endpoint", "status", "-w", "fields"], [e]);
        return r.code === 0 ? parseEndpointStatus(r.stdout) : [];
      }),
    );
    return all.flat();
  }

  async put(key: string, value: string): Promise<void> {
    await this.ok(["put", key, value]);
  }

  async get(key: string): Promise<string | undefined> {
    const lines = (await this.ok(["get", key, "--print-value-only"])).split("\n");
    return lines[0] === "" && lines.length <= 2 ? undefined : lines[0];
  }

  /** Every key under a prefix (keys only). */
  async keys(prefix: string): Promise<Set<string>> {
    const out = await this.ok(["get", prefix, "--prefix", "--keys-only"]);
    return new Set(out.split("\n").filter((l) => l !== ""));
  }
}

/** The driver script of a local driver, by absolute path. */
export function driverScript(driver: Exclude<Driver, "ssh">): string {
  return path.join(__dirname, "..", "lab", "drivers", `${driver}.sh`);
}

/** Destroys every host of a local lab and its switch, straight through the driver (a last resort). */
export async function removeLab(driver: Exclude<Driver, "ssh">, lab: string): Promise<void> {
  const script = driverScript(driver);
  const list = await run([script, "list", lab]);
  for (const line of list.stdout.split("\n").filter(Boolean)) {
    await run([script, "destroy", lab, line.split(" ")[0]!]);
  }
  await run([script, "switch-down", lab]);
}

/** Whatever of a local lab still exists: hosts, its switch, namespaces, mounts, processes, state. */
export async function labLeftovers(driver: Exclude<Driver, "ssh">, lab: string): Promise<string[]> {
  const left: string[] = [];
  const hosts = (await run([driverScript(driver), "list", lab])).stdout.trim();
  if (hosts) left.push(`hosts: ${hosts.replace(/\n/g, ", ")}`);
  const netns = (await run(["ip", "netns", "list"])).stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(`${lab}-`));
  if (netns.length > 0) left.push(`netns: ${netns.join(", ")}`);
  const state = path.join(process.env["RWK_STATE"] ?? "/var/lib/real-world-kubernetes", "labs", lab);
  const mounts = fs
    .readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .filter((l) => l.includes(`${state}/`));
  if (mounts.length > 0) left.push(`mounts: ${mounts.length}`);
  if (fs.existsSync(state)) left.push(`state dir ${state}`);
  const procs = (await run(["pgrep", "-af", `${lab}-`])).stdout
    .split("\n")
    .filter((l) => l && !l.includes("pgrep"));
  if (procs.length > 0) left.push(`processes: ${procs.join("; ")}`);
  return left;
}
