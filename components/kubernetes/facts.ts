// Facts about a host's Kubernetes parts, defined once: the renderers write them into what is pushed (the
// kubelet's configuration and unit, the static pods, the kubeconfigs, the rwk-kube helper), the
// components and the tests import them.

/** Where things live on a host with a Kubernetes role (kubeadm's layout, so its documentation applies). */
export const paths = {
  /** The helper (components/kubernetes/rwk-kube.sh with these facts rendered into it). */
  script: "/usr/local/sbin/rwk-kube",
  /** The kubelet runs every manifest here as a static pod and watches the directory. */
  manifests: "/etc/kubernetes/manifests",
  pki: "/etc/kubernetes/pki",
  /** Kubeconfigs of the kubelet and of the control plane's components. */
  kubeletKubeconfig: "/etc/kubernetes/kubelet.conf",
  controllerManagerKubeconfig: "/etc/kubernetes/controller-manager.conf",
  schedulerKubeconfig: "/etc/kubernetes/scheduler.conf",
  /** The API server's structured authentication configuration (anonymous only for health checks). */
  authenticationConfig: "/etc/kubernetes/authentication-config.yaml",
  /** The admin's kubeconfig on a control-plane host (kubeadm's admin.conf): drains nodes from there. */
  adminKubeconfig: "/etc/kubernetes/admin.conf",
  kubeletConfig: "/var/lib/kubelet/config.yaml",
  kubeletPki: "/var/lib/kubelet/pki",
  kubeletUnit: "/etc/systemd/system/kubelet.service",
  /** Present while a file the kubelet reads only at start changed since it started. */
  restartPending: "/var/lib/rwk-kube/kubelet-restart-pending",
  appliedConfig: "/var/lib/rwk-kube/kubelet-config",
  kubeProxyConfig: "/var/lib/kube-proxy/config.yaml",
  kubeProxyKubeconfig: "/var/lib/kube-proxy/kubeconfig",
  kubeProxyUnit: "/etc/systemd/system/kube-proxy.service",
  /** Present while a file kube-proxy reads only at start changed since it started. */
  kubeProxyRestartPending: "/var/lib/rwk-kube/kube-proxy-restart-pending",
  kubeProxyAppliedConfig: "/var/lib/rwk-kube/kube-proxy-config",
  /** keepalived's configuration (Debian's package reads it; its unit starts only once it is there). */
  keepalivedConfig: "/etc/keepalived/keepalived.conf",
  /** Present while the configuration changed since keepalived last read it. */
  keepalivedReloadPending: "/var/lib/rwk-kube/keepalived-reload-pending",
  keepalivedAppliedConfig: "/var/lib/rwk-kube/keepalived-config",
} as const;

/** The certificates and keys under paths.pki, by what they are. */
export const pkiFiles = {
  ca: `${paths.pki}/ca.crt`,
  apiserverCert: `${paths.pki}/apiserver.crt`,
  apiserverKey: `${paths.pki}/apiserver.key`,
  apiserverKubeletClientCert: `${paths.pki}/apiserver-kubelet-client.crt`,
  apiserverKubeletClientKey: `${paths.pki}/apiserver-kubelet-client.key`,
  etcdCa: `${paths.pki}/etcd/ca.crt`,
  apiserverEtcdClientCert: `${paths.pki}/apiserver-etcd-client.crt`,
  apiserverEtcdClientKey: `${paths.pki}/apiserver-etcd-client.key`,
  serviceAccountPublicKey: `${paths.pki}/sa.pub`,
  serviceAccountKey: `${paths.pki}/sa.key`,
  kubeletCert: `${paths.kubeletPki}/kubelet.crt`,
  kubeletKey: `${paths.kubeletPki}/kubelet.key`,
} as const;

export const ports = {
  apiserver: 6443,
  kubelet: 10250,
  controllerManager: 10257,
  scheduler: 10259,
  /** kube-proxy's health check: 200 once it has synced its rules with the API server. */
  kubeProxyHealthz: 10256,
  kubeProxyMetrics: 10249,
} as const;

export const kubeletUnitName = "kubelet.service";
export const kubeProxyUnitName = "kube-proxy.service";
/** Debian's keepalived package's unit. */
export const keepalivedUnitName = "keepalived.service";

/**
 * The virtual router keepalived runs for the API servers' virtual IP. Any id from 1 to 255 would do: each
 * lab has a network of its own; another VRRP router on your hosts' network must not use it.
 */
export const apiVirtualRouterId = 51;

/** The identities the Kubernetes CA signs, as the API server's authenticator reads them (CN user, O group). */
export const identities = {
  admin: { commonName: "kubernetes-admin", organization: "system:masters" },
  controllerManager: {
    commonName: "system:kube-controller-manager",
    organization: "system:kube-controller-manager",
  },
  scheduler: { commonName: "system:kube-scheduler", organization: "system:kube-scheduler" },
  apiserverKubeletClient: { commonName: "kube-apiserver-kubelet-client", organization: "system:masters" },
  /** The user the API server's default ClusterRoleBinding system:node-proxier names. */
  kubeProxy: { commonName: "system:kube-proxy", organization: "system:node-proxier" },
} as const;

/** A node's identity: the Node authorizer and NodeRestriction grant it only its own node and pods. */
export function nodeIdentity(host: string): { commonName: string; organization: string } {
  return { commonName: `system:node:${host}`, organization: "system:nodes" };
}

/** The control plane's static pods, by component. */
export const controlPlaneComponents = [
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
] as const;
export type ControlPlaneComponent = (typeof controlPlaneComponents)[number];

/** A control-plane host's taint: workloads stay off it unless it is a worker too (kubeadm's taint). */
export const controlPlaneTaint = {
  key: "node-role.kubernetes.io/control-plane",
  effect: "NoSchedule",
} as const;

/** The web service's port on every node (a NodePort): the drills' HTTP probe hits it from the lab network. */
export const webNodePort = 30080;
