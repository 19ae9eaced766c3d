// Restoring every member in place from one snapshot, as a new cluster. Two steps on every host: first all
// members are stopped and their data dirs restored, and only then do they all start, so the old cluster
// can never take a write while the new one already does.
import * as pulumi from "@pulumi/pulumi";
import { copyBackup } from "../etcd/member";
import type { Member } from "../etcd/member";
import { paths } from "../etcd/facts";
import { hostCommand } from "../host/commands";
import type { Host } from "../host/host";
import { shellCommand } from "../host/shell";

export interface InPlaceRestoreArgs {
  /** The pulled backup directory on the workstation (verified before the program got here). */
  from: string;
  /** The restored cluster's name (token). */
  id: string;
  /** The members to restore, and their hosts. */
  members: Member[];
  hosts: Record<string, Host>;
}

export class InPlaceRestore extends pulumi.ComponentResource {
  constructor(name: string, args: InPlaceRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:recovery:InPlaceRestore", name, {}, opts);
    const initialCluster = args.members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
    const prepared = args.members.map((m) => {
      const host = args.hosts[m.name]!;
      const data = copyBackup(host, `${name}-${m.name}-data`, args.from, this);
      return hostCommand(
        host,
        `${name}-${m.name}-prepare`,
        {
          create: shellCommand(
            paths.script,
            "restore-prepare",
            "--name",
            m.name,
            "--peer-url",
            m.peerUrl,
            "--from",
            data.remoteDir,
            "--initial-cluster",
            initialCluster,
            "--cluster-token",
            args.id,
          ),
          triggers: [args.id],
        },
        // The member must exist, with its files, before it can be restored.
        { parent: this, dependsOn: [data.copy, m.ready] },
      );
    });
    for (const m of args.members) {
      hostCommand(
        args.hosts[m.name]!,
        `${name}-${m.name}-start`,
        {
          create: shellCommand(paths.script, "restore-start", "--cluster-token", args.id),
          triggers: [args.id],
        },
        // Every member is stopped and restored before any of them starts.
        { parent: this, dependsOn: prepared },
      );
    }
    this.registerOutputs({});
  }
}
