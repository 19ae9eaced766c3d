// Calls into the lab driver scripts. Used from dynamic providers, which the engine serializes into the
// state and runs later, so these functions require their modules themselves and capture nothing.

/**
 * Runs a driver script (path relative to the project root) and resolves with its trimmed stdout.
 * `driverConfig` reaches the script as RWK_DRIVER_CONFIG (the vagrant driver's Vagrantfile).
 */
export function runDriver(script: string, args: string[], driverConfig = ""): Promise<string> {
  const { execFile } = require("child_process") as typeof import("child_process");
  const path = require("path") as typeof import("path");
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
