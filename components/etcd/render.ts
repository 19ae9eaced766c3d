// Pure renderers for everything pushed to an etcd host. Each takes plain typed input and returns the
// exact file content, so tests can snapshot them and Pulumi can hash them for triggers.
import { createHash } from "crypto";
import type { EtcdSpec, EtcdTlsMode } from "../../config";
import { shellCommand, shellQuote } from "../host/shell";
import { renderSshPreamble } from "../host/ssh";

export const paths = {
  script: "/usr/local/sbin/rwk-etcd",
  env: "/etc/etcd/rwk.env",
  bootstrapEnv: "/etc/etcd/rwk-bootstrap.env",
  etcdctlEnv: "/etc/etcd/etcdctl.env",
  dropin: "/etc/systemd/system/etcd.service.d/10-rwk.conf",
  dataDir: "/var/lib/etcd/rwk",
  ca: "/etc/etcd/pki/ca.crt",
  serverCert: "/etc/etcd/pki/server.crt",
  serverKey: "/etc/etcd/pki/server.key",
  peerCert: "/etc/etcd/pki/peer.crt",
  peerKey: "/etc/etcd/pki/peer.key",
  trustedCa: "/usr/local/share/ca-certificates/rwk-etcd-ca.crt",
} as const;

export const ports = { client: 2379, peer: 2380, metrics: 2381 } as const;

/**
 * The one name every member's peer certificate carries: the peer port accepts only it, so a client
 * certificate from the same CA (the operator's, the API server's) is refused there.
 */
export const peerCommonName = "rwk-etcd-peer";

/** Raft timings of every member (config: etcdHeartbeatInterval, etcdElectionTimeout). */
export type RaftTimings = Pick<EtcdSpec, "heartbeatIntervalMs" | "electionTimeoutMs">;

/** One etcd member as placed on a host. */
export interface MemberPlacement {
  name: string;
  address: string;
}

/** A file to push: where, with which mode and owner, and its content. */
export interface FileSpec {
  path: string;
  mode: "0600" | "0640" | "0644" | "0755";
  owner: string;
  content: string;
  /** etcd reads certificates and keys again on every TLS handshake: changing them needs no restart. */
  hotReload?: boolean;
}

/** A member's certificates, as PEM text. */
export interface MemberPki {
  ca: string;
  serverCert: string;
  serverKey: string;
  peerCert: string;
  peerKey: string;
}

const scheme = (tls: EtcdTlsMode) => (tls === "on" ? "https" : "http");

export function clientUrl(m: MemberPlacement, tls: EtcdTlsMode): string {
  return `${scheme(tls)}://${m.address}:${ports.client}`;
}

export function peerUrl(m: MemberPlacement, tls: EtcdTlsMode): string {
  return `${scheme(tls)}://${m.address}:${ports.peer}`;
}

/** Names a member's certificates must hold: the host, its address and loopback (SANs). */
export function memberSans(m: MemberPlacement): { dnsNames: string[]; ipAddresses: string[] } {
  return { dnsNames: [m.name, "localhost"], ipAddresses: [m.address, "127.0.0.1"] };
}

/** Renders KEY=value lines, sorted, one per line, as systemd's EnvironmentFile reads them. */
export function renderEnvFile(comment: string, vars: Record<string, string>): string {
  const lines = Object.keys(vars)
    .sort()
    .map((k) => {
      const v = vars[k]!;
      if (!/^[A-Z][A-Z0-9_]*$/.test(k) || /[\n"\\]/.test(v))
        throw new Error(`cannot render ${k}=${JSON.stringify(v)}`);
      return `${k}=${v}`;
    });
  return [`# ${comment}`, ...lines, ""].join("\n");
}

/**
 * The member's own settings. INITIAL_* settings are not here: they only matter on a member's first
 * start and come from the cluster itself (`member add` prints them) or from the bootstrap file.
 */
export function renderMemberEnv(
  m: MemberPlacement,
  clusterToken: string,
  tls: EtcdTlsMode,
  timings: RaftTimings,
): string {
  const s = scheme(tls);
  const vars: Record<string, string> = {
    ETCD_ADVERTISE_CLIENT_URLS: clientUrl(m, tls),
    ETCD_DATA_DIR: paths.dataDir,
    ETCD_ELECTION_TIMEOUT: String(timings.electionTimeoutMs),
    ETCD_HEARTBEAT_INTERVAL: String(timings.heartbeatIntervalMs),
    ETCD_INITIAL_CLUSTER_TOKEN: clusterToken,
    ETCD_LISTEN_CLIENT_URLS: `${clientUrl(m, tls)},${s}://127.0.0.1:${ports.client}`,
    // Loopback too: the first member announces itself on localhost, as the workshop's did, until
    // `member update` moves its peer URL to the host address.
    ETCD_LISTEN_PEER_URLS: `${peerUrl(m, tls)},${s}://127.0.0.1:${ports.peer}`,
    ETCD_NAME: m.name,
  };
  if (tls !== "off") {
    // Staged: peers can already dial TLS (with their certificate) while every listener is still plain,
    // so that in the next step members can switch their peer URLs to https one at a time.
    Object.assign(vars, {
      ETCD_PEER_CERT_ALLOWED_CN: peerCommonName,
      ETCD_PEER_CERT_FILE: paths.peerCert,
      ETCD_PEER_KEY_FILE: paths.peerKey,
      ETCD_PEER_TRUSTED_CA_FILE: paths.ca,
    });
  }
  if (tls === "on") {
    Object.assign(vars, {
      ETCD_CERT_FILE: paths.serverCert,
      ETCD_CLIENT_CERT_AUTH: "true",
      ETCD_KEY_FILE: paths.serverKey,
      // The one plaintext listener left: metrics, on loopback only.
      ETCD_LISTEN_METRICS_URLS: `http://127.0.0.1:${ports.metrics}`,
      ETCD_PEER_CLIENT_CERT_AUTH: "true",
      ETCD_TRUSTED_CA_FILE: paths.ca,
    });
  }
  return renderEnvFile(
    `etcd member ${m.name}: managed by real-world-kubernetes (Pulumi); changes are overwritten`,
    vars,
  );
}

/** How the very first member starts: a cluster of one that only knows itself on localhost. */
export function renderBootstrapEnv(m: MemberPlacement, tls: EtcdTlsMode): string {
  const local = `${scheme(tls)}://localhost:${ports.peer}`;
  return renderEnvFile(
    `first start of ${m.name} as a new one-member cluster (the workshop's starting point)`,
    {
      ETCD_INITIAL_ADVERTISE_PEER_URLS: local,
      ETCD_INITIAL_CLUSTER: `${m.name}=${local}`,
      ETCD_INITIAL_CLUSTER_STATE: "new",
    },
  );
}

/** What etcdctl on the host uses: the member's own certificate, which is also valid for client auth. */
export function renderEtcdctlEnv(tls: EtcdTlsMode): string {
  return renderEnvFile(
    "etcdctl on this host (sourced by rwk-etcd)",
    tls === "off"
      ? {}
      : { ETCDCTL_CACERT: paths.ca, ETCDCTL_CERT: paths.serverCert, ETCDCTL_KEY: paths.serverKey },
  );
}

/** The systemd drop-in that points Debian's etcd.service at our environment files. */
export function renderDropin(): string {
  return [
    "# Managed by real-world-kubernetes (Pulumi).",
    "[Service]",
    "# Later files win: the member's settings, then how it joined (written once, at join time).",
    `EnvironmentFile=${paths.env}`,
    "EnvironmentFile=-/etc/etcd/rwk-join.env",
    "",
  ].join("\n");
}

export interface MemberFilesInput {
  member: MemberPlacement;
  clusterToken: string;
  tls: EtcdTlsMode;
  timings: RaftTimings;
  script: string;
  /** Certificates; required unless tls is off. */
  pki?: MemberPki;
}

/** Everything one member's host needs, as one list of remote path → file. */
export function memberFiles(input: MemberFilesInput): FileSpec[] {
  const { member: m, tls } = input;
  const root = "root:root";
  const files: FileSpec[] = [
    { path: paths.script, mode: "0755", owner: root, content: input.script },
    {
      path: paths.env,
      mode: "0644",
      owner: root,
      content: renderMemberEnv(m, input.clusterToken, tls, input.timings),
    },
    { path: paths.bootstrapEnv, mode: "0644", owner: root, content: renderBootstrapEnv(m, tls) },
    { path: paths.etcdctlEnv, mode: "0644", owner: root, content: renderEtcdctlEnv(tls) },
    { path: paths.dropin, mode: "0644", owner: root, content: renderDropin() },
  ];
  if (tls !== "off") {
    const pki = input.pki;
    if (!pki) throw new Error(`member ${m.name}: etcdTls is ${tls} but no certificates were given`);
    files.push(
      { path: paths.ca, mode: "0644", owner: root, content: pki.ca },
      { path: paths.trustedCa, mode: "0644", owner: root, content: pki.ca },
      { path: paths.serverCert, mode: "0644", owner: root, content: pki.serverCert, hotReload: true },
      { path: paths.serverKey, mode: "0600", owner: "etcd:etcd", content: pki.serverKey, hotReload: true },
      { path: paths.peerCert, mode: "0644", owner: root, content: pki.peerCert, hotReload: true },
      { path: paths.peerKey, mode: "0600", owner: "etcd:etcd", content: pki.peerKey, hotReload: true },
    );
  }
  return files;
}

/** Paths of a member's files, for removing them (no content needed, so nothing secret). */
export function memberFilePaths(tls: EtcdTlsMode): string[] {
  const all = memberFiles({
    member: { name: "x", address: "0.0.0.0" },
    clusterToken: "x",
    tls,
    timings: { heartbeatIntervalMs: 0, electionTimeoutMs: 0 },
    script: "",
    pki: { ca: "", serverCert: "", serverKey: "", peerCert: "", peerKey: "" },
  });
  return all.map((f) => f.path);
}

/**
 * A shell script that writes the files atomically with their modes and owners. It travels on stdin,
 * so secret content never appears in a command line, a process list or the engine's log.
 */
export function renderInstallScript(files: FileSpec[]): string {
  const lines = ["set -eu", "umask 077"];
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    const dir = f.path.slice(0, f.path.lastIndexOf("/")) || "/";
    const tmp = `${f.path}.rwk-new`;
    const data = Buffer.from(f.content, "utf8")
      .toString("base64")
      .replace(/(.{76})/g, "$1\n");
    lines.push(
      // Directories stay traversable (etcd must reach its keys); only the files are private.
      `(umask 022 && ${shellCommand("mkdir", "-p", dir)})`,
      `${shellCommand("base64", "-d")} > ${shellQuote(tmp)} <<'RWK_EOF'`,
      data,
      "RWK_EOF",
      [
        shellCommand("chown", f.owner, tmp),
        shellCommand("chmod", f.mode, tmp),
        shellCommand("mv", "-f", tmp, f.path),
      ].join(" && "),
    );
  }
  if (files.some((f) => f.path === paths.trustedCa)) {
    // The CA also joins the host's trust store, so every TLS client there trusts the members.
    // Its output is noise (and a warning about the bundle it rebuilds); its exit status is what counts.
    lines.push("update-ca-certificates >/dev/null 2>&1");
  }
  lines.push("");
  return lines.join("\n");
}

/** The command that removes pushed files again. */
export function renderRemoveScript(filePaths: string[]): string {
  const rm = shellCommand("rm", "-f", ...[...filePaths].sort());
  return filePaths.includes(paths.trustedCa) ? `${rm} && update-ca-certificates --fresh >/dev/null` : rm;
}

/** Content hash of a file set: the trigger that re-pushes and restarts when anything changes. */
export function hashFiles(files: FileSpec[]): string {
  const h = createHash("sha256");
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    h.update(`${f.path}\0${f.mode}\0${f.owner}\0${f.content}\0`);
  }
  return h.digest("hex").slice(0, 16);
}

/** The part of a member's files that etcd only reads at start: a change of it needs a restart. */
export function restartHash(files: FileSpec[]): string {
  return hashFiles(files.filter((f) => !f.hotReload));
}

/** The commands that take a member out, on its own host and on any other host (see renderLeaveScript). */
export function leaveCommands(
  name: string,
  endpoints: string,
  tls: EtcdTlsMode,
): { leave: string; evict: string } {
  const who = ["--name", name, "--endpoints", endpoints];
  return {
    leave: `${shellCommand(paths.script, "leave", ...who)} && ${renderRemoveScript(memberFilePaths(tls))}`,
    evict: shellCommand(paths.script, "evict", ...who),
  };
}

/**
 * The workstation's script that takes a member out of the cluster. On the member's own host when it
 * answers and has the helper: leave (under the quorum guard), stop, wipe, remove its files. Otherwise the
 * host is gone (stopped, destroyed, rebuilt): the first other host that answers removes the member from
 * the cluster, under the same guard, as the workshop did with `member remove` from a healthy member.
 * Environment: RWK_SSH_KEY, RWK_MEMBER, RWK_SELF and RWK_OTHERS ("user host port" lines), RWK_LEAVE and
 * RWK_EVICT (the commands from leaveCommands).
 */
export function renderLeaveScript(): string {
  return `${renderSshPreamble()}read -r user host port <<<"$RWK_SELF"
status=0
remote "$user" "$host" "$port" ${shellQuote(`test -x ${paths.script}`)} || status=$?
if ((status == 0)); then
  remote "$user" "$host" "$port" "$RWK_LEAVE"
  exit
fi
echo "rwk: $RWK_MEMBER's host does not answer (ssh: $status); removing it through the other members" >&2
while read -r user host port; do
  [[ -n $user ]] || continue
  status=0
  remote "$user" "$host" "$port" "$RWK_EVICT" || status=$?
  # 255: that host does not answer either; 127: it runs no member. Anything else is the answer.
  ((status == 255 || status == 127)) || exit "$status"
done <<<"$RWK_OTHERS"
echo "rwk: no host answers that could remove $RWK_MEMBER from the cluster" >&2
exit 1
`;
}
