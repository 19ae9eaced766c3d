// Pure renderers for everything pushed to an etcd host. Each takes plain typed input and returns the
// exact file content, so tests can snapshot them and Pulumi can hash them for triggers.
import { createHash } from "crypto";

export const paths = {
  script: "/usr/local/sbin/rwk-etcd",
  env: "/etc/etcd/rwk.env",
  bootstrapEnv: "/etc/etcd/rwk-bootstrap.env",
  dropin: "/etc/systemd/system/etcd.service.d/10-rwk.conf",
  dataDir: "/var/lib/etcd/rwk",
} as const;

export const ports = { client: 2379, peer: 2380 } as const;

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
}

export function clientUrl(m: MemberPlacement): string {
  return `http://${m.address}:${ports.client}`;
}

export function peerUrl(m: MemberPlacement): string {
  return `http://${m.address}:${ports.peer}`;
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
export function renderMemberEnv(m: MemberPlacement, clusterToken: string): string {
  return renderEnvFile(
    `etcd member ${m.name}: managed by real-world-kubernetes (Pulumi); changes are overwritten`,
    {
      ETCD_ADVERTISE_CLIENT_URLS: clientUrl(m),
      ETCD_DATA_DIR: paths.dataDir,
      ETCD_INITIAL_CLUSTER_TOKEN: clusterToken,
      ETCD_LISTEN_CLIENT_URLS: `${clientUrl(m)},http://127.0.0.1:${ports.client}`,
      // Loopback too: the first member announces itself on localhost, as the workshop's did, until
      // `member update` moves its peer URL to the host address.
      ETCD_LISTEN_PEER_URLS: `${peerUrl(m)},http://127.0.0.1:${ports.peer}`,
      ETCD_NAME: m.name,
    },
  );
}

/** How the very first member starts: a cluster of one that only knows itself on localhost. */
export function renderBootstrapEnv(m: MemberPlacement): string {
  const local = `http://localhost:${ports.peer}`;
  return renderEnvFile(
    `first start of ${m.name} as a new one-member cluster (the workshop's starting point)`,
    {
      ETCD_INITIAL_ADVERTISE_PEER_URLS: local,
      ETCD_INITIAL_CLUSTER: `${m.name}=${local}`,
      ETCD_INITIAL_CLUSTER_STATE: "new",
    },
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

/** Everything one member's host needs, as one map of remote path → file. */
export function memberFiles(m: MemberPlacement, clusterToken: string, script: string): FileSpec[] {
  return [
    { path: paths.script, mode: "0755", owner: "root:root", content: script },
    { path: paths.env, mode: "0644", owner: "root:root", content: renderMemberEnv(m, clusterToken) },
    { path: paths.bootstrapEnv, mode: "0644", owner: "root:root", content: renderBootstrapEnv(m) },
    { path: paths.dropin, mode: "0644", owner: "root:root", content: renderDropin() },
  ];
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
      `mkdir -p '${dir}'`,
      `base64 -d > '${tmp}' <<'RWK_EOF'`,
      data,
      "RWK_EOF",
      `chown ${f.owner} '${tmp}' && chmod ${f.mode} '${tmp}' && mv -f '${tmp}' '${f.path}'`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

/** The command that removes pushed files again. */
export function renderRemoveScript(files: FileSpec[]): string {
  return `rm -f ${files
    .map((f) => `'${f.path}'`)
    .sort()
    .join(" ")}`;
}

/** Content hash of a file set: the trigger that re-pushes and restarts when anything changes. */
export function hashFiles(files: FileSpec[]): string {
  const h = createHash("sha256");
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    h.update(`${f.path}\0${f.mode}\0${f.owner}\0${f.content}\0`);
  }
  return h.digest("hex").slice(0, 16);
}
