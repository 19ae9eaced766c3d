import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  clientUrl,
  hashFiles,
  memberFiles,
  paths,
  peerUrl,
  renderInstallScript,
  renderRemoveScript,
} from "./render";
import type { MemberPlacement } from "./render";

export interface MemberArgs {
  /** Where the member runs: the host's name and address. */
  placement: MemberPlacement;
  /** How to reach the host over SSH. */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
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
  /** Content of the rwk-etcd helper script pushed to the host. */
  script: string;
  /** The member that joined just before this one: changes happen one member at a time. */
  previous?: Member;
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

  constructor(name: string, args: MemberArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:etcd:Member", name, {}, opts);
    const m = args.placement;
    this.name = m.name;
    this.clientUrl = clientUrl(m);
    this.peerUrl = peerUrl(m);
    const files = memberFiles(m, args.clusterToken, args.script);
    const configHash = hashFiles(files);
    const triggers = [args.hostIdentity];
    // When the whole host goes (pulumi destroy, or the host leaves the inventory), removing files and
    // leaving the cluster over SSH would be pointless, and fail if the host is stopped.
    const deletedWith = args.hostMachine;

    const pushed = new command.remote.Command(
      `${name}-files`,
      {
        connection: args.connection,
        stdin: renderInstallScript(files),
        create: `bash -s # ${configHash}`,
        delete: renderRemoveScript(files),
        triggers,
      },
      // Old and new files share their paths on the same host: removing the old ones after pushing the
      // new ones (the default replacement order) would delete what was just pushed.
      { parent: this, deleteBeforeReplace: true, deletedWith },
    );

    const endpoints = args.others.map(clientUrl).join(",");
    const joinFlags = [args.learner ? " --learner" : "", args.bootstrap ? " --bootstrap" : ""].join("");
    this.joined = new command.remote.Command(
      `${name}-join`,
      {
        connection: args.connection,
        create: `${paths.script} join --name ${m.name} --peer-url ${this.peerUrl} --endpoints '${endpoints}'${joinFlags}`,
        delete: `${paths.script} leave --name ${m.name} --endpoints '${endpoints}'`,
        // Joining happens once; a later change (say, the inventory grew) only refreshes the endpoints
        // that `leave` will use.
        update: "true",
        triggers,
      },
      {
        parent: this,
        // Joining needs the files; members join one after another, and leave in reverse order.
        dependsOn: [pushed, ...(args.previous ? [args.previous.joined] : [])],
        // A rebuilt host takes over the member's name and peer URL: the old member must be gone first.
        deleteBeforeReplace: true,
        deletedWith,
      },
    );

    this.ready = new command.remote.Command(
      `${name}-restart`,
      {
        connection: args.connection,
        // Right after joining, etcd already runs this configuration; later changes restart it.
        create: `true # config ${configHash}`,
        update: `${paths.script} restart --name ${m.name} # config ${configHash}`,
        triggers,
      },
      {
        parent: this,
        // Restarts roll: one member at a time, each only once the cluster has quorum again.
        dependsOn: [this.joined, ...(args.previous ? [args.previous.ready] : [])],
        deletedWith,
      },
    );

    this.registerOutputs({ clientUrl: this.clientUrl, peerUrl: this.peerUrl });
  }
}
