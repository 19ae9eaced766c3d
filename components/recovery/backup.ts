// Backups as part of the stack: a new backup id in config takes one (an etcdctl snapshot, checked with
// `snapshot status`, and the workshop's archive of the data dir) and pulls it to the workstation.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { BackupSpec } from "../../config";
import { paths } from "../etcd/facts";
import { hostCommand } from "../host/commands";
import type { Host } from "../host/host";
import { shellCommand } from "../host/shell";
import { renderSshPreamble, sshTarget } from "../host/ssh";
import type { Member } from "../etcd/member";

/** Where the workstation keeps the pulled copies (relative to the project root). */
export const pulledBackups = "backups";

/**
 * The workstation side of a backup: copy the three files over SSH into backups/<stack>/<member>-<time>/,
 * check them against the host's manifest, and print the directory. Inputs come from the environment,
 * so the key never appears in a command line.
 */
export function renderPullScript(): string {
  return `${renderSshPreamble()}field() { jq -r --arg f "$1" '.[$f] // empty' "$2"; }
src=${paths.backups}/$RWK_BACKUP_ID
mkdir -p "$RWK_BACKUP_DEST"
tmp=$(mktemp -d "$RWK_BACKUP_DEST/.pull.XXXXXX")
trap 'rm -f "$key"; rm -rf "$tmp"' EXIT
read -r user host port <<<"$RWK_SSH_TARGET"
for f in manifest.json snapshot.db data-dir.tar.gz; do
  # ssh hands the remote shell one line: the path is quoted for it.
  remote "$user" "$host" "$port" "cat $(printf '%q' "$src/$f")" >"$tmp/$f"
done
for f in snapshot.db data-dir.tar.gz; do
  want=$(field "$f" "$tmp/manifest.json")
  got=$(sha256sum "$tmp/$f" | cut -d' ' -f1)
  [[ -n $want && $want == "$got" ]] || { echo "pulled $f does not match the host's manifest ($got vs $want)" >&2; exit 1; }
done
dest=$RWK_BACKUP_DEST/$(field member "$tmp/manifest.json")-$(field stamp "$tmp/manifest.json")
# A backup holds all of etcd's data: readable by its owner only.
chmod -R go-rwx "$tmp"
rm -rf "$dest"
mv "$tmp" "$dest"
echo "$dest"
`;
}

export interface BackupArgs {
  spec: BackupSpec;
  stack: string;
  /** The member to back up, and the host it runs on. */
  member: Member;
  host: Host;
  /** The stack's SSH private key (a secret): the workstation pulls the files over SSH. */
  sshPrivateKey: pulumi.Input<string>;
}

/** One backup of etcd: taken on a member, checked, and pulled to the workstation. */
export class Backup extends pulumi.ComponentResource {
  /** Where the pulled backup is, relative to the project root (what `restore.from` takes). */
  public readonly directory: pulumi.Output<string>;
  /** The host's manifest: time, revision, hash, key count, checksums. */
  public readonly manifest: pulumi.Output<string>;

  constructor(name: string, args: BackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:recovery:Backup", name, { id: args.spec.id, member: args.spec.member }, opts);
    const id = args.spec.id;
    const take = hostCommand(
      args.host,
      `${name}-take`,
      {
        create: shellCommand(paths.script, "backup", "--id", id),
        delete: shellCommand("rm", "-rf", `${paths.backups}/${id}`),
        // Each id is its own backup: a new one replaces the resource of the last.
        triggers: [id],
        once: true,
        logging: "stderr",
      },
      // A backup of a member that has not finished joining would be of nothing.
      { parent: this, dependsOn: [args.member.ready] },
    );
    const pull = new command.local.Command(
      `${name}-pull`,
      {
        interpreter: ["/bin/bash", "-c"],
        create: renderPullScript(),
        environment: {
          RWK_SSH_KEY: args.sshPrivateKey,
          RWK_SSH_TARGET: sshTarget(args.host.sshEndpoint),
          RWK_BACKUP_ID: id,
          RWK_BACKUP_DEST: `${pulledBackups}/${args.stack}`,
        },
        triggers: [id],
        logging: "stderr",
      },
      // Pulled copies stay on the workstation when the stack goes: they are what you restore from.
      { parent: this, dependsOn: [take] },
    );
    this.directory = pull.stdout;
    this.manifest = take.stdout;
    this.registerOutputs({ directory: this.directory, manifest: this.manifest });
  }
}
