// A throwaway stack driven through the real CLI as a user types it: its own file backend and passphrase,
// its config written as Pulumi.<stack>.yaml beside the program, and everything it made removed at the end.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { labName } from "../../config";
import { projectRoot, removeLab } from "../../workstation/lab";

const project = "real-world-kubernetes";

export interface CliResult {
  code: number;
  /** stdout and stderr, as a terminal shows them. */
  out: string;
  stdout: string;
}

export class CliStack {
  /** A directory of the test's own: the stack's state, and any file it writes. */
  readonly scratch: string;
  private readonly file: string;
  private readonly env: NodeJS.ProcessEnv;

  /** `command`: how the CLI is typed, `["pulumi"]` or `./rwk pulumi`; `timeoutMs` bounds each call. */
  constructor(
    readonly name: string,
    private readonly command: [string, ...string[]],
    private readonly timeoutMs: number,
  ) {
    this.file = path.join(projectRoot, `Pulumi.${name}.yaml`);
    this.scratch = fs.mkdtempSync(path.join(os.tmpdir(), `rwk-${name}-`));
    this.env = {
      ...process.env,
      PULUMI_BACKEND_URL: `file://${this.scratch}`,
      PULUMI_CONFIG_PASSPHRASE: `${name}-test-passphrase`,
    };
  }

  /** The command with `args`, on this stack, non-interactive: what it printed and its exit code. */
  run(...args: string[]): CliResult {
    return this.typed(...args, "--stack", this.name, "--non-interactive");
  }

  /** The command with `args` and nothing added: a user's own order of flags and verb. */
  typed(...args: string[]): CliResult {
    const [bin, ...pre] = this.command;
    const r = spawnSync(bin, [...pre, ...args], {
      cwd: projectRoot,
      env: this.env,
      encoding: "utf8",
      timeout: this.timeoutMs,
    });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
  }

  /** As run, and throws with what it printed unless it succeeded. */
  ok(...args: string[]): CliResult {
    const r = this.run(...args);
    if (r.code !== 0)
      throw new Error(`${this.command.join(" ")} ${args.join(" ")} failed (exit ${r.code}):\n${r.out}`);
    return r;
  }

  /** The stack's config, keys without the project's prefix. */
  configure(config: Record<string, unknown>): void {
    const keyed = Object.entries(config).map(([k, v]): [string, unknown] => [`${project}:${k}`, v]);
    fs.writeFileSync(this.file, yaml.dump({ config: Object.fromEntries(keyed) }));
  }

  /** The state's resources, as `pulumi stack export` gives them. */
  resources(): unknown[] {
    const state = JSON.parse(this.ok("stack", "export").stdout) as { deployment: { resources?: unknown[] } };
    return state.deployment.resources ?? [];
  }

  /** Whatever the stack made (should a refusal fail to happen), its lab, the stack and its files. */
  async remove(): Promise<void> {
    this.run("destroy", "--yes");
    await removeLab("machines", labName(this.name));
    this.run("stack", "rm", "--yes", "--force");
    fs.rmSync(this.file, { force: true });
    fs.rmSync(this.scratch, { recursive: true, force: true });
  }
}
