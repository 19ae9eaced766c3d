// real-world-kubernetes: the workshop's hosts and etcd member set, driven by this stack's config.
import { loadConfig } from "./config";
import { Cluster, placementsOf, restoreId } from "./components/etcd/cluster";
import { Lab } from "./components/host/lab";
import { EtcdPki } from "./components/pki/etcd-pki";
import { Backup } from "./components/recovery/backup";
import { InPlaceRestore } from "./components/recovery/in-place";
import { verifyBackup } from "./components/recovery/restore";

const config = loadConfig();
// A restore is refused here, before any resource is registered, if its backup fails the integrity check.
const restore = config.restore && {
  spec: config.restore,
  id: restoreId(verifyBackup(config.restore.from, config.restore.method)),
};

const lab = new Lab("lab", { config, sshPrivateKey: config.sshPrivateKey });
const members = placementsOf(lab.hosts).filter((p) => config.etcd.members.includes(p.name));
const pki = config.etcd.tls === "off" ? undefined : new EtcdPki("etcd-pki", { spec: config.pki, members });
const etcd = new Cluster("etcd", {
  spec: config.etcd,
  hosts: lab.hosts,
  token: config.lab,
  ...(pki ? { pki } : {}),
  ...(restore ? { restore } : {}),
});
if (restore?.spec.method === "in-place") {
  new InPlaceRestore("etcd-restore", {
    from: restore.spec.from,
    id: restore.id,
    members: etcd.members,
    hosts: lab.hosts,
  });
}
const backup =
  config.backup &&
  new Backup("etcd-backup", {
    spec: config.backup,
    stack: config.stack,
    member: etcd.members.find((m) => m.name === config.backup?.member)!,
    host: lab.hosts[config.backup.member]!,
    sshPrivateKey: lab.sshPrivateKey,
  });

export const labName = config.lab;
export const driver = config.driver;
export const hosts = Object.fromEntries(
  Object.values(lab.hosts).map((h) => [
    h.hostName,
    { address: h.address, state: h.state, ssh: h.sshEndpoint },
  ]),
);
export const sshPrivateKey = lab.sshPrivateKey;
export const sshPublicKey = lab.sshPublicKey;
export const etcdMembers = config.etcd.members;
export const etcdEndpoints = etcd.endpoints;
export const etcdTls = config.etcd.tls;
/** The CA and the operator's client certificate, for etcdctl (`--cacert/--cert/--key`). */
export const etcdCaCert = pki?.ca.certPem;
export const etcdOperatorCert = pki?.operator.certPem;
export const etcdOperatorKey = pki?.operator.privateKeyPem;
/** The last backup taken: the directory to give `restore.from`, and the host's manifest. */
export const backupDirectory = backup?.directory;
export const backupManifest = backup?.manifest;
