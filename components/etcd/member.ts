import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import type { EtcdTlsMode, RestoreMethod } from "../../config";
import { copyToHost, hostCommand, pushFiles } from "../host/commands";
import { restartHash } from "../host/files";
import type { Host } from "../host/host";
import { shellCommand } from "../host/shell";
import { sshTarget } from "../host/ssh";
import type { Certificate } from "../pki/pki";
import { builtDir } from "../built";
import { paths, user } from "./facts";
import { clientUrl, leaveCommands, memberFiles, peerUrl, placementOf, renderLeaveScript } from "./render";
import type { MemberPki, RaftTimings } from "./render";

/** How the first member starts from a backup instead of an empty data dir (see RestoreSpec in config). */
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
  /** The host the member runs on; a rebuilt host (new identity) gets the member afresh. */
  host: Host;
  /** The etcd release: its binaries, built on the workstation, are copied to the host. */
  version: string;
  /**
   * The lab's other hosts: where a joining member looks for the cluster, and through which a member
   * whose host is gone leaves it. The inventory, not the member list, so that members coming and going
   * never touch running members.
   */
  others: Host[];
  /** The key that reaches every host (a secret): a member leaves from the workstation. */
  sshPrivateKey: pulumi.Input<string>;
  /** Shared by every member of one cluster; guards against joining another cluster by mistake. */
  clusterToken: string;
  /** Join as a learner and be promoted once caught up (default true). */
  learner: boolean;
  /** Its etcd stopped on purpose (etcdMemberStates), its host up. */
  stopped: boolean;
  /** May bootstrap a new one-member cluster when no other member answers (the first member only). */
  bootstrap: boolean;
  /** Transport security of clients and peers (see config: off, staged, on). */
  tls: EtcdTlsMode;
  /** Raft heartbeat interval and election timeout. */
  timings: RaftTimings;
  /** Certificates; required unless tls is off. */
  certificates?: MemberCertificates;
  /** The body of the rwk-etcd helper script (components/etcd/rwk-etcd.sh). */
  script: string;
  /** The functions it asks systemd with (components/host/rwk-unit.sh). */
  library: string;
  /** Start from a backup (the first member, or every member in place). */
  restore?: MemberRestore;
  /** The member that joined just before this one: changes happen one member at a time. */
  previous?: Member;
}

/** Copies a pulled backup directory onto a member's host, for a restore; returns where it lands. */
export function copyBackup(
  host: Host,
  name: string,
  from: string,
  parent: pulumi.Resource,
): { copy: command.remote.CopyToRemote; remoteDir: string } {
  const copy = copyToHost(host, name, { from, remoteDir: paths.restores, triggers: [from] }, { parent });
  return { copy, remoteDir: `${paths.restores}/${path.basename(from)}` };
}

/**
 * What the safety policies (policy/) read of a member: its component args, plain and known at preview.
 * Only what a rule reads: a member's other changes (TLS, a stopped etcd, a version) change no args.
 */
export interface MemberFacts {
  name: string;
  /** Starts once with ETCD_FORCE_NEW_CLUSTER (the classic restore's data-dir archive). */
  forceNewCluster: boolean;
  restore?: { method: string; id: string };
}

/** A member's facts for the policies. Pure. */
export function memberFacts(args: MemberArgs): MemberFacts {
  return {
    name: args.host.hostName,
    forceNewCluster: args.restore?.method === "classic",
    ...(args.restore ? { restore: { method: args.restore.method, id: args.restore.id } } : {}),
  };
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
    super("rwk:etcd:Member", name, memberFacts(args), opts);
    const { host, tls } = args;
    const m = placementOf(host);
    this.name = m.name;
    this.clientUrl = clientUrl(m, tls);
    this.peerUrl = peerUrl(m, tls);
    const certs = args.certificates;
    const base = {
      version: args.version,
      member: m,
      clusterToken: args.clusterToken,
      tls,
      timings: args.timings,
      script: args.script,
      library: args.library,
    };
    const noPki: MemberPki = { ca: "", serverCert: "", serverKey: "", peerCert: "", peerKey: "" };

    // Keys make the file set secret; what needs a restart is computed from what is not secret (the
    // certificates and keys themselves are re-read by etcd on every handshake).
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
    const config = pulumi
      .output(certs?.caCertPem ?? "")
      .apply((ca) => restartHash(memberFiles({ ...base, pki: { ...noPki, ca } })));
    const restore = args.restore;

    // The release's binaries, into a directory of their own: a new version lands beside the running one,
    // and the restart below switches to it.
    const binaries = copyToHost(
      host,
      `${name}-binaries`,
      { from: builtDir("etcd", args.version), remoteDir: paths.binaries, triggers: [args.version] },
      { parent: this },
    );
    const pushed = pushFiles(
      host,
      `${name}-files`,
      {
        files,
        restartMarker: paths.restartPending,
        // etcd runs as its own system user, which owns its data and its keys.
        before: [
          `getent passwd ${user} >/dev/null || useradd --system --home-dir /var/lib/etcd --shell /usr/sbin/nologin ${user}`,
          shellCommand("install", "-d", "-o", user, "-g", user, "-m", "0700", "/var/lib/etcd"),
        ].join("\n"),
      },
      { parent: this },
    );

    // The backup travels to the host first; rwk-etcd checks it again there before using it.
    const restoreData = restore ? copyBackup(host, `${name}-restore-data`, restore.from, this) : undefined;

    const endpoints = args.others.map((o) => clientUrl(placementOf(o), tls)).join(",");
    const identity = ["--name", m.name];
    this.joined = hostCommand(
      host,
      `${name}-join`,
      {
        create: shellCommand(
          paths.script,
          "join",
          ...identity,
          "--peer-url",
          this.peerUrl,
          "--endpoints",
          endpoints,
          ...(args.learner ? ["--learner"] : []),
          ...(args.bootstrap ? ["--bootstrap"] : []),
          ...(restore
            ? ["--restore", restore.method, "--from", restoreData!.remoteDir, "--cluster-token", restore.id]
            : []),
        ),
        // Joining happens once; a later change (the inventory grew, TLS came on) changes nothing here.
        update: "true",
        // A restore is a join from the backup: a new one runs it again, on the host the member has (its
        // data lost behind Pulumi's back, the workshop's classic recovery) as on a fresh one.
        ...(restore ? { triggers: [restore.id] } : {}),
      },
      {
        parent: this,
        // Joining needs the files; members join one after another.
        dependsOn: [
          pushed,
          binaries,
          ...(restoreData ? [restoreData.copy] : []),
          ...(args.previous ? [args.previous.joined] : []),
        ],
      },
    );

    // Run whenever the configuration changes; rwk-etcd restarts etcd only if a file it reads at start
    // changed since it started (the files' restart marker), and moves its peer URL first when the scheme
    // changes (securing a running cluster).
    // A member stopped by config (etcdMemberStates) is stopped instead, its host up; back to running, it
    // starts with its current configuration.
    const restart = args.stopped
      ? pulumi.output(shellCommand(paths.script, "stop", ...identity))
      : pulumi.interpolate`${shellCommand(paths.script, "restart", ...identity, "--peer-url", this.peerUrl, "--config")} ${config}`;
    this.ready = hostCommand(
      host,
      `${name}-restart`,
      { create: restart, update: restart },
      {
        parent: this,
        // Restarts roll: one member at a time, each only once the cluster has quorum again.
        dependsOn: [pushed, binaries, this.joined, ...(args.previous ? [args.previous.ready] : [])],
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
          RWK_SELF: sshTarget(host.sshEndpoint),
          RWK_OTHERS: pulumi.all(args.others.map((o) => sshTarget(o.sshEndpoint))).apply((t) => t.join("\n")),
          RWK_LEAVE: out.leave,
          RWK_EVICT: out.evict,
        },
        logging: "stderr",
      },
      {
        parent: this,
        // Created once the member has joined; members leave in reverse order of joining.
        dependsOn: [this.joined, ...(args.previous ? [args.previous.leave] : [])],
        // When the whole host goes (pulumi destroy, or the host leaves the inventory), leaving is moot.
        ...(host.machine ? { deletedWith: host.machine } : {}),
      },
    );

    this.registerOutputs({ name: this.name, clientUrl: this.clientUrl, peerUrl: this.peerUrl });
  }
}
