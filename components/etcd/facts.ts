// Facts about an etcd host, defined once: the program renders them into what it pushes (env files, the
// drop-in, the rwk-etcd helper, whose variables come from here), and drills and tests import them.

/** Where things live on a member's host. */
export const paths = {
  /** The membership helper (components/etcd/rwk-etcd.sh with these facts rendered into it). */
  script: "/usr/local/sbin/rwk-etcd",
  env: "/etc/etcd/rwk.env",
  bootstrapEnv: "/etc/etcd/rwk-bootstrap.env",
  /** How the member joined (`member add` prints it); written once by `rwk-etcd join`. */
  joinEnv: "/etc/etcd/rwk-join.env",
  etcdctlEnv: "/etc/etcd/etcdctl.env",
  /** The workshop's etcd-member unit, ours (no distribution package is involved). */
  unitFile: "/etc/systemd/system/etcd-member.service",
  /** A one-shot runtime drop-in (gone at the next boot) for the classic restore's first start. */
  forceNewDropin: "/run/systemd/system/etcd-member.service.d/99-rwk-force-new-cluster.conf",
  /** Where released binaries land, one directory per component and version (etcd-v3.6.16/). */
  binaries: "/opt/rwk",
  dataDir: "/var/lib/etcd/rwk",
  /**
   * Present while a file etcd reads only at start changed after etcd last started (the install script
   * creates it, every start of etcd by rwk-etcd removes it): `rwk-etcd restart` restarts only then.
   */
  restartPending: "/var/lib/rwk-etcd/restart-pending",
  /** The hash of the configuration etcd runs, for people (`rwk-etcd restart --config` records it). */
  appliedConfig: "/var/lib/rwk-etcd/config",
  ca: "/etc/etcd/pki/ca.crt",
  serverCert: "/etc/etcd/pki/server.crt",
  serverKey: "/etc/etcd/pki/server.key",
  peerCert: "/etc/etcd/pki/peer.crt",
  peerKey: "/etc/etcd/pki/peer.key",
  trustedCa: "/usr/local/share/ca-certificates/rwk-etcd-ca.crt",
  /** Backups taken on the member (`rwk-etcd backup`), one directory per id. */
  backups: "/var/backups/rwk",
  /** Backups copied to the host for a restore, and the markers of prepared in-place restores. */
  restores: "/var/lib/rwk-restore",
} as const;

export const ports = { client: 2379, peer: 2380, metrics: 2381 } as const;

/** The workshop's unit name (CoreOS called it etcd-member). */
export const unit = "etcd-member.service";

/** The system user etcd runs as; it owns the data directory and the keys. */
export const user = "etcd";

/** Where a version's etcd, etcdctl and etcdutl are on a host. */
export function etcdBinDir(version: string): string {
  return `${paths.binaries}/etcd-v${version}`;
}
