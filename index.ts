// real-world-kubernetes: the workshop's hosts and etcd member set, driven by this stack's config.
import { clusterDnsIp, kubernetesServiceIp, loadConfig } from "./config";
import { requireBuilt } from "./components/built";
import { Cluster, placementsOf, restoreId } from "./components/etcd/cluster";
import { Lab } from "./components/host/lab";
import { EtcdPki } from "./components/pki/etcd-pki";
import { Backup } from "./components/recovery/backup";
import { InPlaceRestore } from "./components/recovery/in-place";
import { verifyBackup } from "./components/recovery/restore";
import { ClusterAccess } from "./components/kubernetes/access";
import { ControlPlane } from "./components/kubernetes/control-plane";
import { Kubelet } from "./components/kubernetes/kubelet";
import { apiserverUrl } from "./components/kubernetes/render";
import { pauseDeployment } from "./components/kubernetes/workloads";
import { KubernetesPki } from "./components/pki/kubernetes-pki";
import { clientUrl, placementOf } from "./components/etcd/render";
import { toolVersions } from "./components/runtime/facts";
import { hostImages, hostRoles, imageRefs, imagesForRoles, requireImages } from "./components/runtime/images";
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
// Kubernetes on every host with a role: a container runtime with the cluster's binaries and images, and a
// kubelet; on the control-plane hosts the API server, controller manager and scheduler as its static pods.
const k8sSpec = config.kubernetes;
const kubernetesPki =
  k8sSpec.controlPlane.length > 0
    ? new KubernetesPki("kubernetes-pki", {
        spec: config.pki,
        controlPlane: k8sSpec.controlPlane.map((h) => placementOf(lab.hosts[h]!)),
        nodes: [...roles.keys()].map((h) => placementOf(lab.hosts[h]!)),
        serviceIp: kubernetesServiceIp(k8sSpec.serviceCidr),
        clusterDomain: k8sSpec.clusterDomain,
      })
    : undefined;
const controlPlanes: ControlPlane[] = [];
for (const [host, itsRoles] of roles) {
  const runtime = new NodeRuntime(`runtime-${host}`, {
    host: lab.hosts[host]!,
    kubernetesVersion: k8sSpec.version,
    podCidr: k8sSpec.podCidr.cidr,
    images: hostImages(images, itsRoles),
  });
  // Validation refuses roles without a control plane and a control plane without etcd over TLS.
  const kpki = kubernetesPki!;
  const kubelet = new Kubelet(`kubelet-${host}`, {
    host: lab.hosts[host]!,
    version: k8sSpec.version,
    runtime,
    caCertPem: kpki.ca.certPem,
    certificate: kpki.kubelets[host]!,
    // The first control-plane host's API server (one stable endpoint comes with HA).
    apiserver: apiserverUrl(lab.hosts[k8sSpec.controlPlane[0]!]!.address),
    clusterDns: clusterDnsIp(k8sSpec.serviceCidr),
    clusterDomain: k8sSpec.clusterDomain,
    controlPlaneOnly: !itsRoles.includes("worker"),
  });
  if (itsRoles.includes("controlPlane")) {
    controlPlanes.push(
      new ControlPlane(`control-plane-${host}`, {
        host: lab.hosts[host]!,
        images: imageRefs(k8sSpec.version),
        pki: kpki,
        etcdPki: pki!,
        etcdServers: members.map((m) => clientUrl(m, "on")),
        serviceCidr: k8sSpec.serviceCidr.cidr,
        clusterDomain: k8sSpec.clusterDomain,
        kubelet,
        // Joined (a restore is a join from the backup) and running its configuration.
        etcd: etcd.members.flatMap((m) => [m.joined, m.ready]),
        ...(restore ? { etcdRestore: restore.id } : {}),
      }),
    );
  }
}
const access =
  kubernetesPki &&
  new ClusterAccess("cluster", {
    lab,
    driver: config.driver,
    labName: config.lab,
    apiserverAddress: lab.hosts[k8sSpec.controlPlane[0]!]!.address,
    pki: kubernetesPki,
    ready: controlPlanes.map((c) => c.ready),
  });
// The workshop's workload, an ordinary resource of the stack through the cluster's provider.
if (access) {
  pauseDeployment("pause", {
    replicas: k8sSpec.pauseReplicas,
    workers: k8sSpec.workers.length,
    kubernetesVersion: k8sSpec.version,
    provider: access.provider,
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
  // The admin's kubeconfig, for kubectl (`./rwk kubectl`, or KUBECONFIG from `eval "$(./rwk env)"`).
  ...(access ? { kubeconfig: access.kubeconfig, apiServer: access.server } : {}),
  // The last backup taken: the directory to give `restore.from`, and the host's manifest.
  ...(backup ? { backupDirectory: backup.directory, backupManifest: backup.manifest } : {}),
};
