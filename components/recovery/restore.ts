// What a restore needs, checked on the workstation before anything is registered: a backup whose files
// match their checksums, or a clear refusal that leaves the hosts untouched.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { backupIdPattern } from "../../config";
import type { RestoreMethod } from "../../config";

export interface BackupManifest {
  id: string;
  member: string;
  takenAt: string;
  stamp: string;
  status: { hash: number; revision: number; totalKey: number; totalSize: number };
  dataDirConsistent: boolean;
  /**
   * How the data-dir archive was made: from the member stopped meanwhile (the others held quorum), or
   * from the snapshot (`etcdutl snapshot restore`; a one-member cluster). Absent in older backups, whose
   * one-member archives were made live.
   */
  dataDirFrom?: "stopped member" | "snapshot";
  "snapshot.db": string;
  "data-dir.tar.gz": string;
}

/** The one file each method restores from. */
export function restoreFile(method: RestoreMethod): "snapshot.db" | "data-dir.tar.gz" {
  return method === "classic" ? "data-dir.tar.gz" : "snapshot.db";
}

/** A refusal, printed by the engine as its message alone (a RunError: no stack trace). */
export class RestoreError extends pulumi.RunError {
  constructor(message: string) {
    super(message);
    this.name = "RestoreError";
  }
}

/** Reads a pulled backup's manifest and checks the file the method needs against its checksum. */
export function verifyBackup(dir: string, method: RestoreMethod): BackupManifest {
  const manifestFile = path.join(dir, "manifest.json");
  if (!fs.existsSync(manifestFile))
    throw new RestoreError(`restore.from: ${dir} is not a backup (no manifest.json)`);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as BackupManifest;
  } catch (e) {
    throw new RestoreError(`restore.from: ${manifestFile} is not valid JSON: ${String(e)}`);
  }
  // The manifest comes from a file anyone could edit; what of it names things on the hosts (the restored
  // cluster's token is made of id and stamp) must be plain names.
  const fields: [keyof BackupManifest, RegExp][] = [
    ["id", backupIdPattern],
    ["stamp", /^\d{8}T\d{6}Z$/],
    ["member", /^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/],
  ];
  for (const [field, pattern] of fields) {
    if (typeof manifest[field] !== "string" || !pattern.test(manifest[field])) {
      throw new RestoreError(
        `restore.from: ${manifestFile} has ${field} ${JSON.stringify(manifest[field])}, which does not match ${pattern.source}; refusing to restore from it, nothing was changed`,
      );
    }
  }
  const file = restoreFile(method);
  const data = path.join(dir, file);
  if (!fs.existsSync(data))
    throw new RestoreError(`restore.from: ${dir} has no ${file}, which a ${method} restore needs`);
  const got = createHash("sha256").update(fs.readFileSync(data)).digest("hex");
  if (got !== manifest[file]) {
    throw new RestoreError(
      `restore.from: ${data} fails its integrity check (sha256 ${got}, the manifest says ${String(manifest[file])}); ` +
        "refusing to restore from it, nothing was changed",
    );
  }
  return manifest;
}
