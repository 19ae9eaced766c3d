// A `pulumi up` killed with SIGKILL in the middle of creating resources: the plugins it started (language
// host, program, command provider and its command, tls provider, dynamic provider and what its create
// started) must not outlive it, and the documented recovery (cancel, up, refresh --clear-pending-creates)
// must bring the stack back to a state that a preview leaves unchanged. A throwaway local stack, no lab.
import { spawn, spawnSync } from "child_process";
import type { ChildProcess } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// Every process of the interrupted update inherits this variable; it is how we find them, and it proves
// that a process is ours before we would ever signal it.
const markerName = "RWK_INTERRUPTED_UP_TEST";
const marker = crypto.randomUUID();

const work = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-interrupted-up-"));
const project = path.join(work, "project");
const backend = path.join(work, "state");
const env = {
  ...process.env,
  PULUMI_BACKEND_URL: `file://${backend}`,
  PULUMI_CONFIG_PASSPHRASE: "interrupted-up-test",
  PULUMI_SKIP_UPDATE_CHECK: "true",
  PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
};
const stack = "interrupted";

// The create of the command and of the dynamic resource each run `sleep <seconds>`: long enough to be
// killed in the middle of the first update, short for the recovery.
const program = `
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");
const tls = require("@pulumi/tls");

const seconds = new pulumi.Config().requireNumber("seconds");
const sleeper = {
  async create(inputs) {
    const { execFile } = require("child_process");
    await new Promise((resolve, reject) =>
      execFile("sleep", [String(inputs.seconds)], (err) => (err ? reject(err) : resolve())));
    return { id: "sleeper", outs: inputs };
  },
};
class Sleeper extends pulumi.dynamic.Resource {
  constructor(name, props, opts) { super(sleeper, name, props, opts); }
}
new tls.PrivateKey("key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
new command.local.Command("sleep", { create: "sleep " + seconds });
new Sleeper("sleeper", { seconds });
`;

interface Proc {
  pid: number;
  cmdline: string;
}

// Live processes (zombies already are not) whose environment carries our marker.
function markedProcesses(): Proc[] {
  const found: Proc[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = fs.readFileSync(`/proc/${entry}/environ`, "latin1").split("\0");
      if (!environ.includes(`${markerName}=${marker}`)) continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "latin1");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0").join(" ").trim();
      found.push({ pid: Number(entry), cmdline });
    } catch {
      // Gone while we looked, or not ours to read.
    }
  }
  return found;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, timeoutMs: number, done: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

function pulumi(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync("pulumi", [...args, "--non-interactive", "--color", "never"], {
    cwd: project,
    env: { ...env, ...extraEnv },
    encoding: "utf8",
    timeout: 5 * 60 * 1000,
  });
  return { status: r.status, stdout: r.stdout, output: `${r.stdout}${r.stderr}` };
}

function pulumiOk(args: string[]): { stdout: string; output: string } {
  const r = pulumi(args);
  if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.status}:\n${r.output}`);
  return r;
}

let up: ChildProcess | undefined;

beforeAll(() => {
  fs.mkdirSync(project);
  fs.mkdirSync(backend);
  fs.writeFileSync(
    path.join(project, "Pulumi.yaml"),
    "name: rwk-interrupted-up\nruntime: nodejs\nmain: index.js\n",
  );
  fs.writeFileSync(path.join(project, "package.json"), '{ "name": "rwk-interrupted-up", "private": true }\n');
  fs.writeFileSync(path.join(project, "index.js"), program);
  fs.symlinkSync(path.join(__dirname, "..", "..", "node_modules"), path.join(project, "node_modules"));
  pulumiOk(["stack", "init", stack]);
});

afterAll(() => {
  // Whatever still carries our marker was started by this test's update.
  for (const p of markedProcesses()) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  up?.kill("SIGKILL");
  pulumi(["cancel", "--yes"]);
  pulumi(["destroy", "--yes", "--skip-preview"]);
  pulumi(["stack", "rm", "--yes", "--force", stack]);
  fs.rmSync(work, { recursive: true, force: true });
});

describe("a pulumi up killed mid-update", () => {
  it("leaves no plugin process behind, and cancel, up and refresh bring the stack back", async () => {
    pulumiOk(["config", "set", "seconds", "600"]);
    up = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--color", "never"], {
      cwd: project,
      env: { ...env, [markerName]: marker },
      stdio: "ignore",
    });
    const sleepers = () => markedProcesses().filter((p) => p.cmdline === "sleep 600");
    // Both creates are under way: the command's and the dynamic provider's.
    await waitFor("both creates to start", 120_000, () => sleepers().length === 2);

    const before = markedProcesses().map((p) => p.cmdline);
    for (const plugin of [
      /pulumi-language-nodejs/,
      /@pulumi\/pulumi\/cmd\/run/,
      /pulumi-resource-command/,
      /pulumi-resource-tls/,
      /@pulumi\/pulumi\/cmd\/dynamic-provider/,
    ]) {
      expect(before).toContainEqual(expect.stringMatching(plugin));
    }

    const exited = new Promise((resolve) => up?.once("exit", resolve));
    up.kill("SIGKILL");
    await exited;
    const killedAt = Date.now();
    await waitFor("the update's processes to exit", 15_000, () => markedProcesses().length === 0).catch(
      (err: Error) => {
        const left = markedProcesses().map((p) => `  ${p.pid} ${p.cmdline}`);
        throw new Error(`${err.message}; still running:\n${left.join("\n")}`);
      },
    );
    const lingeredMs = Date.now() - killedAt;
    expect(lingeredMs).toBeLessThan(15_000);

    // The file backend keeps the killed update's lock.
    const locked = pulumi(["up", "--yes", "--skip-preview"]);
    expect(locked.status).not.toBe(0);
    expect(locked.output).toMatch(/the stack is currently locked/);

    pulumiOk(["cancel", "--yes"]);
    pulumiOk(["config", "set", "seconds", "1"]);
    const recovered = pulumiOk(["up", "--yes", "--skip-preview"]);
    // The interrupted creates are created again, with a warning about them.
    expect(recovered.output).toMatch(/interrupted while creating/);
    pulumiOk(["preview", "--expect-no-changes"]);

    // Otherwise every later update repeats that warning.
    pulumiOk(["refresh", "--clear-pending-creates", "--yes", "--skip-preview"]);
    const state = JSON.parse(pulumiOk(["stack", "export"]).stdout) as {
      deployment: { pending_operations?: unknown[]; resources: { urn: string }[] };
    };
    expect(state.deployment.pending_operations ?? []).toEqual([]);
    expect(state.deployment.resources.map((r) => r.urn.split("::").pop())).toEqual(
      expect.arrayContaining(["key", "sleep", "sleeper"]),
    );
    const quiet = pulumiOk(["up", "--yes", "--skip-preview"]);
    expect(quiet.output).not.toMatch(/pending operations/);
    pulumiOk(["preview", "--expect-no-changes"]);
  }, 600_000);
});
