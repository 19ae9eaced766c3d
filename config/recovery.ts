// Backups and restores, each asked for by a config change.
import type { EtcdSpec } from "./etcd";
import type { Problems, RawOf } from "./problems";

/** Taking a backup is a config change: a new id takes a new one, from this member. */
export interface BackupSpec {
  id: string;
  member: string;
}

export const restoreMethods = ["classic", "snapshot", "in-place"] as const;
/**
 * classic: the workshop's — the data-dir archive on the first member, started once with
 * force-new-cluster; snapshot: `etcdctl snapshot restore` into a new cluster of one; in-place: every
 * member restored from the same snapshot, as a new cluster.
 */
export type RestoreMethod = (typeof restoreMethods)[number];

export interface RestoreSpec {
  /** A backup directory (as `pulumi up` pulled it), relative to the project root. */
  from: string;
  method: RestoreMethod;
}

/** A backup's id: it names a directory on the host and, with its time, the restored cluster. */
export const backupIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
/** One part of a path that reaches a host's shell or file system: no "..", no spaces, no shell syntax. */
export const pathPartPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** A backup's member defaults to the first of etcdMembers, so it has no constant default. */
export const restoreDefaults = { method: "snapshot" } as const;

/** Empty: nothing is backed up or restored until a stack asks. */
export const recoveryConfigDefaults = { backup: {}, restore: {} } as const;

export function parseRecovery(
  raw: RawOf<typeof recoveryConfigDefaults>,
  etcd: EtcdSpec,
  p: Problems,
): { backup: BackupSpec | undefined; restore: RestoreSpec | undefined } {
  return {
    backup: parseBackup(raw.backup ?? recoveryConfigDefaults.backup, etcd, p),
    restore: parseRestore(raw.restore ?? recoveryConfigDefaults.restore, etcd, p),
  };
}

function parseBackup(value: unknown, etcd: EtcdSpec, p: Problems): BackupSpec | undefined {
  if (!p.objectOf("backup", value, ["id", "member"]) || Object.keys(value).length === 0) return undefined;
  const id = value["id"];
  if (typeof id !== "string" || !backupIdPattern.test(id)) {
    p.add("backup.id", `${JSON.stringify(id)} must be 1-40 characters of letters, digits, ".", "_", "-"`);
  }
  const member = value["member"] ?? etcd.members[0];
  if (typeof member !== "string" || !etcd.members.includes(member)) {
    p.add(
      "backup.member",
      `${JSON.stringify(member)} is not one of etcdMembers (${etcd.members.join(", ") || "none"})`,
    );
  }
  return { id: typeof id === "string" ? id : "", member: typeof member === "string" ? member : "" };
}

function parseRestore(value: unknown, etcd: EtcdSpec, p: Problems): RestoreSpec | undefined {
  if (!p.objectOf("restore", value, ["from", "method"]) || Object.keys(value).length === 0) return undefined;
  const from = value["from"];
  // The directory's name becomes a path on the hosts: only plain names, so no value can be shell syntax.
  if (typeof from !== "string" || !from.split("/").every((part) => pathPartPattern.test(part))) {
    p.add(
      "restore.from",
      `${JSON.stringify(from)} must be a backup directory relative to the project root, ` +
        `such as backups/dev/core-01-20261125T120000Z: parts of letters, digits, ".", "_", "-", no ".."`,
    );
  }
  const method =
    p.oneOf("restore.method", value["method"] ?? restoreDefaults.method, restoreMethods) ??
    restoreDefaults.method;
  if (etcd.members.length === 0) p.add("restore", "nothing to restore into: etcdMembers is empty");
  return { from: typeof from === "string" ? from : "", method };
}
