// The workstation's side of SSH to the hosts, for local commands that must choose at run time which host
// to reach (a backup's pull, a member leaving through whichever host answers). The key comes from the
// environment (RWK_SSH_KEY, a secret) into a private temp file, so it never appears in a command line.
import * as pulumi from "@pulumi/pulumi";

/** A host's SSH endpoint as the local scripts read it: "user host port" (the `remote` function's args). */
export function sshTarget(endpoint: pulumi.Input<{ host: string; port: number; user: string }>) {
  return pulumi.output(endpoint).apply((e) => `${e.user} ${e.host} ${e.port}`);
}

/**
 * The start of a bash script that reaches hosts: the key file, removed on exit, and
 * `remote <user> <host> <port> <command...>`, which exits 255 when the host cannot be reached.
 */
export function renderSshPreamble(): string {
  return `set -euo pipefail
key=$(mktemp)
trap 'rm -f "$key"' EXIT
printf '%s\\n' "$RWK_SSH_KEY" >"$key"
remote() {
  local user=$1 host=$2 port=$3
  shift 3
  ssh -i "$key" -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \\
    -o LogLevel=ERROR -o BatchMode=yes -o ConnectTimeout=10 "$user@$host" "$@"
}
`;
}
