import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { EtcdSpec, RestoreSpec } from "../../config";
import type { Host } from "../host/host";
import type { BackupManifest } from "../recovery/restore";
import type { EtcdPki } from "../pki/etcd-pki";
import { Member } from "./member";
import type { MemberRestore } from "./member";
import { placementOf } from "./render";
import type { MemberPlacement } from "./render";

export interface ClusterArgs {
  spec: EtcdSpec;
  /** The lab's hosts by name; members are placed on them. */
  hosts: Record<string, Host>;
  /** Distinguishes this cluster from any other (the stack's lab name). */
  token: string;
  /** The key that reaches every host (a secret): members leave through whichever host answers. */
  sshPrivateKey: pulumi.Input<string>;
  /** Certificates for every member; required unless spec.tls is off. */
  pki?: EtcdPki;
  /** Start from this backup (verified beforehand); `id` names the restored cluster (see restoreId). */
  restore?: { spec: RestoreSpec; id: string };
}

/** Where each host would run a member: its name and address. */
export function placementsOf(hosts: Record<string, Host>): MemberPlacement[] {
  return Object.values(hosts).map(placementOf);
}

/** The first member starts from the backup (classic, snapshot); an in-place restore is InPlaceRestore's. */
export function memberRestore(restore: ClusterArgs["restore"], index: number): { restore?: MemberRestore } {
  if (!restore || restore.spec.method === "in-place" || index !== 0) return {};
  return { restore: { method: restore.spec.method, from: restore.spec.from, id: restore.id } };
}

/** A restored cluster's name (its token): from the backup it came from. */
export function restoreId(manifest: Pick<BackupManifest, "id" | "stamp">): string {
  return `restore-${manifest.id}-${manifest.stamp}`.toLowerCase();
}

/** What a member set of this size can survive, for preview warnings and docs. */
export function faultTolerance(size: number): { quorum: number; tolerates: number } {
  const quorum = Math.floor(size / 2) + 1;
  return { quorum, tolerates: size - quorum };
}

/** Warnings that `pulumi preview` shows for a member set of this size. */
export function sizeWarnings(members: string[]): string[] {
  const n = members.length;
  const { quorum, tolerates } = faultTolerance(n);
  if (n === 2) {
    return [
      `etcd has 2 members (${members.join(", ")}): quorum is 2 of 2, so this pair survives no failure. ` +
        "Add a third member before relying on it.",
    ];
  }
  if (n > 2 && n % 2 === 0) {
    return [
      `etcd has ${n} members: quorum is ${quorum}, so it tolerates ${tolerates} failure(s), no more than ${n - 1} members would.`,
    ];
  }
  return [];
}

/** The etcd member set, placed on hosts by config, changed one member at a time. */
export class Cluster extends pulumi.ComponentResource {
  public readonly members: Member[] = [];
  public readonly endpoints: string[];

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:etcd:Cluster", name, {}, opts);
    const script = fs.readFileSync(path.join(__dirname, "rwk-etcd.sh"), "utf8");

    for (const warning of sizeWarnings(args.spec.members)) void pulumi.log.warn(warning, this);

    let previous: Member | undefined;
    args.spec.members.forEach((memberName, i) => {
      const host = args.hosts[memberName]!;
      previous = new Member(
        `${name}-${memberName}`,
        {
          host,
          version: args.spec.version,
          others: Object.values(args.hosts).filter((h) => h !== host),
          sshPrivateKey: args.sshPrivateKey,
          clusterToken: args.token,
          learner: args.spec.learner,
          stopped: args.spec.stopped.includes(memberName),
          timings: args.spec,
          bootstrap: i === 0,
          ...memberRestore(args.restore, i),
          tls: args.spec.tls,
          ...(args.pki
            ? {
                certificates: {
                  caCertPem: args.pki.ca.certPem,
                  server: args.pki.servers[memberName]!,
                  peer: args.pki.peers[memberName]!,
                },
              }
            : {}),
          script,
          previous,
        },
        { parent: this },
      );
      this.members.push(previous);
    });
    this.endpoints = this.members.map((m) => m.clientUrl);
    this.registerOutputs({ endpoints: this.endpoints });
  }
}
