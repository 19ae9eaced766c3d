import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import type { EtcdTlsMode, RestoreMethod } from "../../config";
import { shellCommand } from "../host/shell";
import type { Certificate } from "../pki/pki";
import {
  clientUrl,
  leaveCommands,
  memberFiles,
  paths,
  peerUrl,
  renderInstallScript,
  renderLeaveScript,
  restartHash,
} from "./render";
import type { MemberPlacement, RaftTimings } from "./render";

/** How the first member starts from a backup instead of an empty data dir (see RestoreSpec in config.ts). */
export interface MemberRestore {
  method: Exclude<RestoreMethod, "in-place">;
  /** The pulled backup directory on the workstation. */
  from: string;
  /** A name for this restore, and the restored cluster's token. */
  id: string;
}

/** A member's certificates: its CA, its serving certificate and its peer certificate. */
export interface MemberCertificates {
  caCertPem: pulumi.Input<string>;
  server: Certificate;
  peer: Certificate;
}

export interface MemberArgs {
  /** Where the member runs: the host's name and address. */
  placement: MemberPlacement;
  /** How to reach the host over SSH. */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /**
   * The SSH endpoints ("user host port") of this host and of the lab's other hosts, and the key: a member
   * leaves from the workstation, through its own host or, when that is gone, through any other.
   */
  sshTargets: { self: pulumi.Input<string>; others: pulumi.Input<string>[] };
  sshPrivateKey: pulumi.Input<string>;
  /** The host's identity: when the host is rebuilt, the member is replaced (leave, then join afresh). */
  hostIdentity: pulumi.Input<string>;
  /** Deleting this resource deletes the host's disk: the member's own clean-up is then skipped. */
  hostMachine?: pulumi.Resource;
  /**
   * The lab's other hosts: where a joining member looks for the cluster and a leaving one reaches it.
   * The inventory, not the member list, so that members coming and going never touch running members.
   */
  others: MemberPlacement[];
  /** Shared by every member of one cluster; guards against joining another cluster by mistake. */
  clusterToken: string;
  /** Join as a learner and be promoted once caught up (default true). */
  learner: boolean;
  /** May bootstrap a new one-member cluster when no other member answers (the first member only). */
  bootstrap: boolean;
  /** Transport security of clients and peers (see config: off, staged, on). */
  tls: EtcdTlsMode;
  /** Raft heartbeat interval and election timeout. */
  timings: RaftTimings;
  /** Certificates; required unless tls is off. */
  certificates?: MemberCertificates;
  /** Content of the rwk-etcd helper script pushed to the host. */
  script: string;
  /** Start from a backup (the first member, or every member in place). */
  restore?: MemberRestore;
  /** The member that joined just before this one: changes happen one member at a time. */
  previous?: Member;
}

/** Copies a pulled backup directory to /var/lib/rwk-restore/<its name> on a host. */
export function copyBackup(
  name: string,
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>,
  from: string,
  triggers: pulumi.Input<unknown>[],
  parent: pulumi.Resource,
  deletedWith?: pulumi.Resource,
): { copy: command.remote.CopyToRemote; remoteDir: string } {
  const copy = new command.remote.CopyToRemote(
    name,
    {
      connection,
      source: new pulumi.asset.FileArchive(from),
      // A directory is copied into remotePath under its own name (rsync's rule, as upstream).
      remotePath: "/var/lib/rwk-restore",
      triggers: [...triggers, from],
    },
    { parent, ...(deletedWith ? { deletedWith } : {}) },
  );
  return { copy, remoteDir: `/var/lib/rwk-restore/${path.basename(from)}` };
}

/** One etcd member: its files on the host, its membership in the cluster, and its restarts. */
export class Member extends pulumi.ComponentResource {
  public readonly name: string;
  public readonly clientUrl: string;
  public readonly peerUrl: string;
  /** Completes once the member has joined and the cluster has quorum. */
  public readonly joined: command.remote.Command;
  /** Completes once the member runs its current configuration. */
  public readonly ready: command.remote.Command;
  /** Takes the member out of the cluster when it is deleted (see renderLeaveScript). */
  public readonly leave: command.local.Command;

  constructor(name: string, args: MemberArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:etcd:Member", name, {}, opts);
    const m = args.placement;
    const tls = args.tls;
    this.name = m.name;
    this.clientUrl = clientUrl(m, tls);
    this.peerUrl = peerUrl(m, tls);
    const certs = args.certificates;
    const base = {
      member: m,
      clusterToken: args.clusterToken,
      tls,
      timings: args.timings,
      script: args.script,
    };

    // Keys make the file set secret; the restart trigger is computed from what is not secret (the
    // certificates and keys themselves are re-read by etcd on every handshake and need no restart).
    const files = certs
      ? pulumi
          .all([
            certs.caCertPem,
            certs.server.certPem,
            certs.server.privateKeyPem,
            certs.peer.certPem,
            certs.peer.privateKeyPem,
          ])
          .apply(([ca, serverCert, serverKey, peerCert, peerKey]) =>
            memberFiles({ ...base, pki: { ca, serverCert, serverKey, peerCert, peerKey } }),
          )
      : pulumi.output(memberFiles(base));
    const configHash = pulumi
      .output(certs?.caCertPem ?? "")
      .apply((ca) =>
        restartHash(
          memberFiles({ ...base, pki: { ca, serverCert: "", serverKey: "", peerCert: "", peerKey: "" } }),
        ),
      );
    const restore = args.restore;
    const triggers = [args.hostIdentity];
    // When the whole host goes (pulumi destroy, or the host leaves the inventory), leaving the cluster
    // and removing files would be pointless.
    const deletedWith = args.hostMachine;

    // No delete on the host's own commands: a host that is down must not block the member's removal.
    // Its files go with `leave` (below), which also reaches a host that is gone through the others.
    const pushed = new command.remote.Command(
      `${name}-files`,
      {
        connection: args.connection,
        stdin: files.apply(renderInstallScript),
        create: "bash -s",
        triggers,
      },
      { parent: this, deletedWith },
    );

    // The backup travels to the host first; rwk-etcd checks it again there before using it.
    const restoreData = restore
      ? copyBackup(`${name}-restore-data`, args.connection, restore.from, triggers, this, deletedWith)
      : undefined;

    const endpoints = args.others.map((o) => clientUrl(o, tls)).join(",");
    const joinFlags = [
      ...(args.learner ? ["--learner"] : []),
      ...(args.bootstrap ? ["--bootstrap"] : []),
      ...(restore
        ? ["--restore", restore.method, "--from", restoreData!.remoteDir, "--cluster-token", restore.id]
        : []),
    ];
    const identity = ["--name", m.name];
    this.joined = new command.remote.Command(
      `${name}-join`,
      {
        connection: args.connection,
        create: shellCommand(
          paths.script,
          "join",
          ...identity,
          "--peer-url",
          this.peerUrl,
          "--endpoints",
          endpoints,
          ...joinFlags,
        ),
        // Joining happens once; a later change (the inventory grew, TLS came on) changes nothing here.
        update: "true",
        triggers,
      },
      {
        parent: this,
        // Joining needs the files; members join one after another.
        dependsOn: [
          pushed,
          ...(restoreData ? [restoreData.copy] : []),
          ...(args.previous ? [args.previous.joined] : []),
        ],
        deletedWith,
      },
    );

    const out = leaveCommands(m.name, endpoints, tls);
    this.leave = new command.local.Command(
      `${name}-leave`,
      {
        interpreter: ["/bin/bash", "-c"],
        // Nothing to do until the member is deleted; the environment is what `delete` will use.
        create: "true",
        delete: renderLeaveScript(),
        environment: {
          RWK_SSH_KEY: args.sshPrivateKey,
          RWK_MEMBER: m.name,
          RWK_SELF: args.sshTargets.self,
          RWK_OTHERS: pulumi.all(args.sshTargets.others).apply((t) => t.join("\n")),
          RWK_LEAVE: out.leave,
          RWK_EVICT: out.evict,
        },
        logging: "stderr",
      },
      {
        parent: this,
        // Created once the member has joined; members leave in reverse order of joining.
        dependsOn: [this.joined, ...(args.previous ? [args.previous.leave] : [])],
        deletedWith,
      },
    );

    this.ready = new command.remote.Command(
      `${name}-restart`,
      {
        connection: args.connection,
        // Right after joining, etcd already runs this configuration; later changes restart it, and move
        // its peer URL first when the scheme changes (securing a running cluster).
        create: pulumi.interpolate`true # config ${configHash}`,
        update: pulumi.interpolate`${shellCommand(paths.script, "restart", ...identity, "--peer-url", this.peerUrl)} # config ${configHash}`,
        triggers,
      },
      {
        parent: this,
        // Restarts roll: one member at a time, each only once the cluster has quorum again.
        dependsOn: [pushed, this.joined, ...(args.previous ? [args.previous.ready] : [])],
        deletedWith,
      },
    );

    this.registerOutputs({ clientUrl: this.clientUrl, peerUrl: this.peerUrl });
  }
}
