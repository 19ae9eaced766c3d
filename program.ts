// The stack's resources: the workshop's hosts, etcd member set and Kubernetes parts, driven by its
// validated config (index.ts reads it and checks what the last update deployed first).
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { clusterDnsIp, deployedBy, deployedOutput, kubernetesServiceIp } from "./config";
import type { Deployed, loadConfig } from "./config";
import { requireBuilt } from "./components/built";
import { deferred } from "./components/deferred";
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
import { KubeProxy } from "./components/kubernetes/kube-proxy";
import { Keepalived } from "./components/kubernetes/keepalived";
import { Node, UpgradeDrain } from "./components/kubernetes/node";
import { clusterDns, pauseDeployment, webService } from "./components/kubernetes/workloads";
import { KubernetesPki } from "./components/pki/kubernetes-pki";
import { clientUrl, placementOf } from "./components/etcd/render";
import { toolVersions } from "./components/runtime/facts";
import { hostImages, hostRoles, imageRefs, imagesForRoles, requireImages } from "./components/runtime/images";
import type { ImageArchive, ImageName } from "./components/runtime/images";
import { podSubnetOf } from "./components/runtime/render";
import { NodeRuntime } from "./components/runtime/runtime";

/**
 * Registers every resource of the stack; returns its outputs. `deployed` is what the last completed update
 * ran: the components carry it in their args, for the safety policies (policy/) to compare with.
 */
export function program(
  config: ReturnType<typeof loadConfig>,
  deployed: Deployed = {},
): Record<string, unknown> {
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
    deployed,
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
          ...(k8sSpec.apiVirtualIp ? { apiVirtualIp: k8sSpec.apiVirtualIp } : {}),
        })
      : undefined;
  // The first control-plane host: where nodes are joined and drained from as the admin.
  const firstControlPlane =
    k8sSpec.controlPlane[0] === undefined ? undefined : lab.hosts[k8sSpec.controlPlane[0]]!;
  // The control plane's stable address: the virtual IP, or the only control-plane host's (validation
  // requires the virtual IP with more than one). Workers and the workstation use it; a control-plane host's
  // kubelet and kube-proxy use their own API server (kubeadm's ControlPlaneKubeletLocalMode), so no host's
  // bootstrap waits on the address and no host loses its API server with another.
  const endpoint = k8sSpec.apiVirtualIp ?? firstControlPlane?.address;
  const apiserverFor = (host: string) =>
    apiserverUrl(k8sSpec.controlPlane.includes(host) ? lab.hosts[host]!.address : endpoint!);
  const controlPlanes = new Map<string, ControlPlane>();
  const kubelets = new Map<string, Kubelet>();
  // Each node's pod subnet, by its address: every node routes to the others' through their addresses.
  const podSubnet = (host: string) => podSubnetOf(lab.hosts[host]!.address, k8sSpec.podCidr.cidr);
  // Validation refuses roles without a control plane and a control plane without etcd over TLS.
  const kpki = kubernetesPki!;
  const admin = firstControlPlane!;
  // A new release rolls one node at a time in the version-skew policy's order (etcd's members rolled
  // before: the API servers wait for them): the control-plane hosts in config's order, each drained, its
  // API server, controller manager and scheduler, then its kubelet and kube-proxy (which talk to that API
  // server only), Ready and schedulable before the next; then the workers, whose kubelets talk to any API
  // server, once every one runs the release. Creating the cluster goes through the same order.
  let previous: Node | undefined;
  const nodeParts: command.remote.Command[] = [];
  const addNode = (host: string, apiservers: pulumi.Resource[]) => {
    const itsRoles = roles.get(host)!;
    const runtime = new NodeRuntime(`runtime-${host}`, {
      host: lab.hosts[host]!,
      kubernetesVersion: k8sSpec.version,
      podCidr: k8sSpec.podCidr.cidr,
      images: hostImages(images, itsRoles),
      routes: [...roles.keys()]
        .filter((other) => other !== host)
        .map((other) => ({ subnet: podSubnet(other), gateway: lab.hosts[other]!.address })),
    });
    // The kubelet's start waits for what is registered after it: its drain and a control-plane host's
    // manifests, which need its files (the helper; on the admin host, the drain's too).
    const drained = deferred<pulumi.Resource>();
    const manifests = deferred<pulumi.Resource>();
    const kubelet = new Kubelet(`kubelet-${host}`, {
      host: lab.hosts[host]!,
      version: k8sSpec.version,
      runtime,
      caCertPem: kpki.ca.certPem,
      certificate: kpki.kubelets[host]!,
      apiserver: apiserverFor(host),
      clusterDns: clusterDnsIp(k8sSpec.serviceCidr),
      clusterDomain: k8sSpec.clusterDomain,
      controlPlaneOnly: !itsRoles.includes("worker"),
      after: [drained.promise, manifests.promise],
    });
    kubelets.set(host, kubelet);
    const drain = new UpgradeDrain(`upgrade-drain-${host}`, {
      host: lab.hosts[host]!,
      version: k8sSpec.version,
      admin,
      after: [
        (kubelets.get(admin.hostName) ?? kubelet).files,
        ...(previous ? [previous.ready] : []),
        ...apiservers,
      ],
    });
    const before = [...controlPlanes.values()].at(-1);
    const controlPlane =
      itsRoles.includes("controlPlane") &&
      new ControlPlane(`control-plane-${host}`, {
        host: lab.hosts[host]!,
        images: imageRefs(k8sSpec.version),
        pki: kpki,
        etcdPki: pki!,
        etcdServers: members.map((m) => clientUrl(m, "on")),
        version: k8sSpec.version,
        controlPlaneHosts: k8sSpec.controlPlane,
        deployed,
        hostStates: Object.fromEntries(config.hosts.map((h) => [h.name, h.state])),
        serviceCidr: k8sSpec.serviceCidr.cidr,
        clusterDomain: k8sSpec.clusterDomain,
        leaderElection: k8sSpec.leaderElection,
        kubelet,
        before: [drain.done, ...runtime.images],
        // Joined (a restore is a join from the backup) and running its configuration.
        etcd: etcd.members.flatMap((m) => [m.joined, m.ready]),
        ...(restore ? { etcdRestore: restore.id } : {}),
        ...(before ? { after: before } : {}),
      });
    drained.resolve(drain.done);
    manifests.resolve(controlPlane ? controlPlane.manifests : drain.done);
    // A control-plane host's kubelet and kube-proxy talk to its own API server; the admin talks to its.
    const talksTo = controlPlane
      ? [controlPlane.ready, ...(host === admin.hostName ? [] : [controlPlanes.get(admin.hostName)!.ready])]
      : apiservers;
    if (controlPlane) controlPlanes.set(host, controlPlane);
    const kubeProxy = new KubeProxy(`kube-proxy-${host}`, {
      host: lab.hosts[host]!,
      version: k8sSpec.version,
      kubelet,
      caCertPem: kpki.ca.certPem,
      certificate: kpki.kubeProxy,
      apiserver: apiserverFor(host),
      podCidr: k8sSpec.podCidr.cidr,
      controlPlane: talksTo,
    });
    previous = new Node(`node-${host}`, {
      host: lab.hosts[host]!,
      podCidr: podSubnet(host),
      version: k8sSpec.version,
      kubelet,
      kubeProxy,
      roles: itsRoles.map((r) => (r === "controlPlane" ? "control-plane" : "worker")),
      admin,
      controlPlane: talksTo,
    });
    nodeParts.push(kubeProxy.ready, previous.ready);
  };
  for (const host of k8sSpec.controlPlane) addNode(host, []);
  // keepalived on every control-plane host, with the virtual IP.
  const virtualIp = k8sSpec.apiVirtualIp;
  const virtualIps = virtualIp
    ? [...controlPlanes].map(
        ([host, controlPlane]) =>
          new Keepalived(`keepalived-${host}`, {
            host: lab.hosts[host]!,
            virtualIp,
            rank: k8sSpec.controlPlane.indexOf(host),
            peers: [...controlPlanes.keys()].filter((other) => other !== host).map((h) => lab.hosts[h]!),
            kubelet: kubelets.get(host)!,
            controlPlane,
          }).ready,
      )
    : [];
  // What answers once the control plane is up: every API server, and the address the others use.
  const controlPlaneReady = [...[...controlPlanes.values()].map((c) => c.ready), ...virtualIps];
  const access =
    kubernetesPki &&
    new ClusterAccess("cluster", {
      lab,
      driver: config.driver,
      labName: config.lab,
      apiserverAddress: endpoint!,
      pki: kubernetesPki,
      ready: controlPlaneReady,
    });
  for (const host of roles.keys()) if (!controlPlanes.has(host)) addNode(host, controlPlaneReady);
  // The workloads, ordinary resources of the stack through the cluster's provider.
  if (access) {
    // After the nodes, so a destroy deletes them before it drains any node (no budget blocks it).
    const workloads = { provider: access.provider, dependsOn: nodeParts };
    const common = {
      workers: k8sSpec.workers.length,
      kubernetesVersion: k8sSpec.version,
      tolerationSeconds: k8sSpec.tolerationSeconds,
    };
    clusterDns(
      "cluster-dns",
      {
        kubernetesVersion: k8sSpec.version,
        clusterIp: clusterDnsIp(k8sSpec.serviceCidr),
        clusterDomain: k8sSpec.clusterDomain,
        tolerationSeconds: k8sSpec.tolerationSeconds,
      },
      workloads,
    );
    pauseDeployment("pause", { ...common, replicas: k8sSpec.pauseReplicas }, workloads);
    webService(
      "web",
      { ...common, replicas: k8sSpec.webReplicas, minAvailable: k8sSpec.webMinAvailable },
      workloads,
    );
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
  return {
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
    // What this update deploys: the next update's version guard reads it back (config/upgrade.ts). Known
    // only once every member and node runs it: an update that fails half way leaves the old record, and
    // the guard keeps comparing with the version some hosts still run.
    [deployedOutput]: pulumi
      .all([...etcd.members.map((m) => m.ready.id), ...nodeParts.map((r) => r.id)])
      .apply(() => deployedBy(config)),
  };
}
