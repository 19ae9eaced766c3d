// Calls into the lab driver scripts. Used from dynamic providers, which the engine serializes into the
// state and runs later, so these functions require their modules themselves and capture nothing.
import type { Driver } from "../../config";

/**
 * A local driver, by name. Resources record the name, never the script's path, so that where the scripts
 * live is no part of the state: moving them replaces nothing.
 */
export type LocalDriver = Exclude<Driver, "ssh">;

/**
 * How recorded state names its driver. State written before drivers were named holds the path the script
 * had then instead (`script: "lab/machines.sh"`, from before lab/drivers/), whose file name is the
 * driver's name.
 */
export interface RecordedDriver {
  driver?: LocalDriver;
  script?: string;
}

/** The driver that recorded state names, either way (see RecordedDriver). */
export function driverOf(state: RecordedDriver): LocalDriver {
  return state.driver ?? (state.script!.replace(/^.*\//, "").replace(/\.sh$/, "") as LocalDriver);
}

/**
 * Runs a driver's script and resolves with its trimmed stdout. The script is found from the project
 * root, the working directory the engine starts every provider in (the dynamic-provider wrapper resolves
 * @pulumi/pulumi from there too). `driverConfig` reaches the script as RWK_DRIVER_CONFIG (the vagrant
 * driver's parts of the Vagrantfile).
 */
export function runDriver(driver: LocalDriver, args: string[], driverConfig = ""): Promise<string> {
  const { execFile } = require("child_process") as typeof import("child_process");
  const path = require("path") as typeof import("path");
  const script = path.join("lab", "drivers", `${driver}.sh`);
  return new Promise((resolve, reject) => {
    const env = { ...process.env, RWK_DRIVER_CONFIG: driverConfig };
    execFile(path.resolve(script), args, { maxBuffer: 1 << 20, env }, (err, stdout, stderr) => {
      if (err)
        reject(new Error(`${script} ${args.slice(0, 3).join(" ")} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout.trim());
    });
  });
}

/** Writes a public key to a private temp file for a driver call; the caller removes it. */
export function writeTempKey(publicKey: string): { path: string; remove: () => void } {
  const fs = require("fs") as typeof import("fs");
  const os = require("os") as typeof import("os");
  const path = require("path") as typeof import("path");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-key-"));
  const file = path.join(dir, "authorized_keys");
  fs.writeFileSync(file, `${publicKey.trim()}\n`, { mode: 0o600 });
  return { path: file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A new random token that makes one stack the owner of a lab (see switch.ts). */
export function newOwnerToken(): string {
  const { randomUUID } = require("crypto") as typeof import("crypto");
  return randomUUID();
}
