// SSH from the workstation to a stack's hosts the way the engine reaches them (same key, same endpoint),
// for checks in drills and tests.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { run } from "./lab";
import type { RunResult } from "./lab";

type HostsOutput = Record<string, { ssh: { host: string; port: number; user: string } }>;

/** The ssh command line for a host named in the stack's `hosts` output. */
export function sshArgs(outputs: Record<string, unknown>, keyFile: string, host: string): string[] {
  const target = (outputs["hosts"] as HostsOutput | undefined)?.[host]?.ssh;
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

/** Runs a command line on a host as root, bounded. */
export function sshRun(
  outputs: Record<string, unknown>,
  keyFile: string,
  host: string,
  command: string,
): Promise<RunResult> {
  return run([...sshArgs(outputs, keyFile, host), command], { timeoutMs: 60_000 });
}

/** Writes the stack's private key (its `sshPrivateKey` output) to a private temp file; the caller removes its directory. */
export function writeKeyFile(key: unknown): string | undefined {
  if (typeof key !== "string" || key === "") return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-ssh-"));
  const file = path.join(dir, "id");
  fs.writeFileSync(file, key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
  return file;
}
