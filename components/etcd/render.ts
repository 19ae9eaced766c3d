// Pure renderers for everything pushed to an etcd host. Each takes plain typed input and returns the
// exact file content, so tests can snapshot them and Pulumi can hash them for triggers.
import type { EtcdSpec, EtcdTlsMode } from "../../config";
import type { HostFile } from "../host/files";
import { renderRemoveScript } from "../host/files";
import { shellCommand, shellQuote, withFacts } from "../host/shell";
import { systemctlCommand } from "../host/systemd";
import { renderSshPreamble } from "../host/ssh";
import { etcdBinDir, paths, ports, unit, user } from "./facts";

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

/** Where a member on this host runs: the host's name and address. */
export function placementOf(host: { hostName: string; address: string }): MemberPlacement {
  return { name: host.hostName, address: host.address };
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

/** The etcd-member unit: the release's etcd, configured entirely by our environment files. */
export function renderUnit(version: string): string {
  return [
    "# Managed by real-world-kubernetes (Pulumi); changes are overwritten.",
    "[Unit]",
    `Description=etcd ${version} member (the workshop's etcd-member)`,
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    // Ready only once the member has joined a quorum: whoever starts it must not block on that.
    "Type=notify",
    `User=${user}`,
    "# Later files win: the member's settings, then how it joined (written once, at join time).",
    `EnvironmentFile=${paths.env}`,
    `EnvironmentFile=-${paths.joinEnv}`,
    `ExecStart=${etcdBinDir(version)}/etcd`,
    "Restart=on-failure",
    "RestartSec=5s",
    "LimitNOFILE=65536",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

export interface MemberFilesInput {
  /** The etcd release the member runs. */
  version: string;
  member: MemberPlacement;
  clusterToken: string;
  tls: EtcdTlsMode;
  timings: RaftTimings;
  /** The body of the rwk-etcd helper (components/etcd/rwk-etcd.sh). */
  script: string;
  /** The functions it asks systemd with (components/host/rwk-unit.sh). */
  library: string;
  /** Certificates; required unless tls is off. */
  pki?: MemberPki;
}

/**
 * The helper as pushed: the facts it works with (paths, ports) rendered from facts.ts in front of its
 * body, so they are written down once.
 */
export function renderHelperScript(body: string, version: string, library: string): string {
  const facts: Record<string, string | number> = {
    unit,
    etcd_user: user,
    etcd_bin: etcdBinDir(version),
    data_dir: paths.dataDir,
    backups: paths.backups,
    restores: paths.restores,
    force_new_dropin: paths.forceNewDropin,
    join_env: paths.joinEnv,
    bootstrap_env: paths.bootstrapEnv,
    member_env: paths.env,
    etcdctl_env: paths.etcdctlEnv,
    restart_pending: paths.restartPending,
    applied_config: paths.appliedConfig,
    client_port: ports.client,
  };
  return withFacts(body, facts, "components/etcd/facts.ts", [library]);
}

/** Everything one member's host needs, as one list of remote path → file. */
export function memberFiles(input: MemberFilesInput): HostFile[] {
  const { member: m, tls } = input;
  const root = "root:root";
  const files: HostFile[] = [
    // etcd never reads the helper: a new version of it restarts nothing.
    {
      path: paths.script,
      mode: "0755",
      owner: root,
      content: renderHelperScript(input.script, input.version, input.library),
      onChange: "none",
    },
    {
      path: paths.env,
      mode: "0644",
      owner: root,
      content: renderMemberEnv(m, input.clusterToken, tls, input.timings),
      onChange: "restart",
    },
    {
      path: paths.bootstrapEnv,
      mode: "0644",
      owner: root,
      content: renderBootstrapEnv(m, tls),
      onChange: "none",
    },
    { path: paths.etcdctlEnv, mode: "0644", owner: root, content: renderEtcdctlEnv(tls), onChange: "none" },
    {
      path: paths.unitFile,
      mode: "0644",
      owner: root,
      content: renderUnit(input.version),
      onChange: "restart",
      afterChange: systemctlCommand("daemon-reload"),
    },
  ];
  if (tls !== "off") {
    const pki = input.pki;
    if (!pki) throw new Error(`member ${m.name}: etcdTls is ${tls} but no certificates were given`);
    // etcd reads its CA only at start, but its certificates and keys again on every TLS handshake.
    files.push(
      { path: paths.ca, mode: "0644", owner: root, content: pki.ca, onChange: "restart" },
      {
        path: paths.trustedCa,
        mode: "0644",
        owner: root,
        content: pki.ca,
        onChange: "none",
        // The CA also joins the host's trust store, so every TLS client there trusts the members. Its
        // output is noise (and a warning about the bundle it rebuilds); its exit status is what counts.
        afterChange: "update-ca-certificates --fresh >/dev/null 2>&1",
      },
      { path: paths.serverCert, mode: "0644", owner: root, content: pki.serverCert, onChange: "reload" },
      { path: paths.serverKey, mode: "0600", owner: "etcd:etcd", content: pki.serverKey, onChange: "reload" },
      { path: paths.peerCert, mode: "0644", owner: root, content: pki.peerCert, onChange: "reload" },
      { path: paths.peerKey, mode: "0600", owner: "etcd:etcd", content: pki.peerKey, onChange: "reload" },
    );
  }
  return files;
}

/** A member's files without their content (nothing secret): what `leave` removes. */
export function memberFileList(tls: EtcdTlsMode): Pick<HostFile, "path" | "afterChange">[] {
  return memberFiles({
    version: "0.0.0",
    member: { name: "x", address: "0.0.0.0" },
    clusterToken: "x",
    tls,
    timings: { heartbeatIntervalMs: 0, electionTimeoutMs: 0 },
    script: "",
    library: "",
    pki: { ca: "", serverCert: "", serverKey: "", peerCert: "", peerKey: "" },
  }).map(({ path, afterChange }) => ({ path, ...(afterChange ? { afterChange } : {}) }));
}

/** The commands that take a member out, on its own host and on any other host (see renderLeaveScript). */
export function leaveCommands(
  name: string,
  endpoints: string,
  tls: EtcdTlsMode,
): { leave: string; evict: string } {
  const who = ["--name", name, "--endpoints", endpoints];
  return {
    leave: `${shellCommand(paths.script, "leave", ...who)} && ${renderRemoveScript(memberFileList(tls))}`,
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
