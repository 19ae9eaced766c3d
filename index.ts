// real-world-kubernetes: the workshop's hosts and etcd member set, driven by this stack's config.
import { loadConfig } from "./config";
import { requireBuilt } from "./components/built";
import { Cluster, placementsOf, restoreId } from "./components/etcd/cluster";
import { Lab } from "./components/host/lab";
import { EtcdPki } from "./components/pki/etcd-pki";
import { Backup } from "./components/recovery/backup";
import { InPlaceRestore } from "./components/recovery/in-place";
import { verifyBackup } from "./components/recovery/restore";
import { toolVersions } from "./components/runtime/facts";
import { hostImages, hostRoles, imagesForRoles, requireImages } from "./components/runtime/images";
import type { ImageArchive, ImageName } from "./components/runtime/images";
import { NodeRuntime } from "./components/runtime/runtime";

const config = loadConfig();
const roles = hostRoles(config.kubernetes);
// The binaries and images the hosts get are built on the workstation: a stack that needs one not built is
// refused here, saying how to build it, before anything is registered.
requireBuilt([
  ...(config.etcd.members.length > 0 ? [{ component: "etcd", version: config.etcd.version } as const] : []),
  ...(roles.size > 0
    ? ([
        { component: "kubernetes", version: config.kubernetes.version },
        { component: "crictl", version: toolVersions.crictl },
        { component: "cni-plugins", version: toolVersions.cniPlugins },
      ] as const)
    : []),
]);
const images =
  roles.size > 0
    ? requireImages(config.kubernetes.version, [...new Set([...roles.values()].flatMap(imagesForRoles))])
    : new Map<ImageName, ImageArchive>();
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
  sshPrivateKey: lab.sshPrivateKey,
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
// A container runtime, the cluster's binaries and its images on every host with a Kubernetes role.
for (const [host, itsRoles] of roles) {
  new NodeRuntime(`runtime-${host}`, {
    host: lab.hosts[host]!,
    kubernetesVersion: config.kubernetes.version,
    images: hostImages(images, itsRoles),
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

// Outputs that do not apply to this stack (no TLS, no backup) are absent rather than undefined.
export = {
  labName: config.lab,
  driver: config.driver,
  hosts: Object.fromEntries(
    Object.values(lab.hosts).map((h) => [
      h.hostName,
      { address: h.address, state: h.state, ssh: h.sshEndpoint },
    ]),
  ),
  sshPrivateKey: lab.sshPrivateKey,
  sshPublicKey: lab.sshPublicKey,
  etcdMembers: config.etcd.members,
  etcdEndpoints: etcd.endpoints,
  etcdTls: config.etcd.tls,
  // The CA and the operator's client certificate, for etcdctl (`--cacert/--cert/--key`).
  ...(pki
    ? {
        etcdCaCert: pki.ca.certPem,
        etcdOperatorCert: pki.operator.certPem,
        etcdOperatorKey: pki.operator.privateKeyPem,
      }
    : {}),
  // The last backup taken: the directory to give `restore.from`, and the host's manifest.
  ...(backup ? { backupDirectory: backup.directory, backupManifest: backup.manifest } : {}),
};
