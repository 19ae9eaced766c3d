import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { pendingFacts, sizeWarnings } from "../../config";
import type { Deployed, EtcdSpec, RestoreSpec } from "../../config";
import type { Host } from "../host/host";
import { unitLibraryFile } from "../host/shell";
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
  /**
   * What the last completed update ran (default: nothing recorded): the safety policies compare with it.
   * Given in a preview only (index.ts), so that an update records the args of what runs.
   */
  deployed?: Deployed;
}

/**
 * What the safety policies (policy/) read of a cluster: its component args, plain and known at preview.
 * The member set as config wants it and, with a pending change only, what the last completed update ran
 * where it differs and what is down. A cluster at rest, or whose hosts stop and start, keeps its args: the
 * engine counts a component whose args change as updated.
 */
export interface ClusterFacts {
  /** Hosts with a member, in join order. */
  members: string[];
  version: string;
  learner: boolean;
  restore?: { method: string; id: string };
  /** The members the last completed update ran, in join order (absent: the same, or not recorded). */
  deployedMembers?: string[];
  deployedVersion?: string;
  /** With a pending change: members whose etcd is stopped on purpose (etcdMemberStates). */
  stopped?: string[];
  /** With a pending change: every host of the inventory, running, stopped or destroyed. */
  hostStates?: Record<string, string>;
}

/** A cluster's facts for the policies. Pure. */
export function clusterFacts(args: ClusterArgs): ClusterFacts {
  const deployed = args.deployed ?? {};
  return {
    members: args.spec.members,
    version: args.spec.version,
    learner: args.spec.learner,
    ...(args.restore ? { restore: { method: args.restore.spec.method, id: args.restore.id } } : {}),
    ...pendingFacts(
      {
        deployedMembers: [deployed.etcdMembers, args.spec.members],
        deployedVersion: [deployed.etcdVersion, args.spec.version],
      },
      {
        stopped: args.spec.stopped,
        hostStates: Object.fromEntries(Object.values(args.hosts).map((h) => [h.hostName, h.state])),
      },
    ),
  };
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

/** The etcd member set, placed on hosts by config, changed one member at a time. */
export class Cluster extends pulumi.ComponentResource {
  public readonly members: Member[] = [];
  public readonly endpoints: string[];

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:etcd:Cluster", name, clusterFacts(args), opts);
    const script = fs.readFileSync(path.join(__dirname, "rwk-etcd.sh"), "utf8");
    const library = fs.readFileSync(unitLibraryFile, "utf8");

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
          library,
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
