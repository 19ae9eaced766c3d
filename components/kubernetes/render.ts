// Pure renderers for everything pushed for Kubernetes: the kubelet's unit, drop-in and configuration, the
// kubeconfigs, the API server's authentication configuration and the control plane's static pods. Each
// takes plain typed input and returns the exact file content, so tests can snapshot them and Pulumi can
// hash them. Objects are typed (the Kubernetes API types of @pulumi/kubernetes for pods) and serialised by
// js-yaml; no file is a template.
import type * as k8s from "@pulumi/kubernetes";
import * as yaml from "js-yaml";
import type { HostFile } from "../host/files";
import { hashFiles } from "../host/files";
import { withFacts } from "../host/shell";
import { renderUnitFile } from "../host/systemd";
import { paths as runtimePaths, unit as containerdUnit } from "../runtime/facts";
import {
  controlPlaneTaint,
  identities,
  kubeletUnitName,
  kubeProxyUnitName,
  keepalivedUnitName,
  apiVirtualRouterId,
  paths,
  pkiFiles,
  ports,
} from "./facts";
import type { ControlPlaneComponent } from "./facts";
import type { LeaderElection } from "../../config/kubernetes";

export type Pod = k8s.types.input.core.v1.Pod;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;
type Volume = k8s.types.input.core.v1.Volume;

/** A host by name and lab address. */
export interface Placement {
  name: string;
  address: string;
}

const managed = "# Managed by real-world-kubernetes (Pulumi); changes are overwritten.";

/** YAML as we write it: block style, no line folding, keys in the order the object has them. */
function toYaml(value: unknown): string {
  return `${managed}\n${yaml.dump(value, { lineWidth: -1, noRefs: true })}`;
}

/** Command-line flags, sorted by name, so a manifest reads (and diffs) the same every time. */
export function renderFlags(flags: Record<string, string | number | boolean>): string[] {
  return Object.keys(flags)
    .sort()
    .map((k) => `--${k}=${String(flags[k])}`);
}

const b64 = (pem: string) => Buffer.from(pem, "utf8").toString("base64");

export interface KubeconfigInput {
  /** The API server's URL. */
  server: string;
  caPem: string;
  /** The user's name in the file (the certificate carries the identity). */
  user: string;
  certPem: string;
  keyPem: string;
}

/** A kubeconfig with one cluster, one user and its context, credentials embedded. */
export function renderKubeconfig(i: KubeconfigInput): string {
  const cluster = "real-world-kubernetes";
  return toYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: cluster,
        cluster: {
          server: i.server,
          "certificate-authority-data": b64(i.caPem),
        },
      },
    ],
    users: [
      { name: i.user, user: { "client-certificate-data": b64(i.certPem), "client-key-data": b64(i.keyPem) } },
    ],
    contexts: [{ name: `${i.user}@${cluster}`, context: { cluster, user: i.user } }],
    "current-context": `${i.user}@${cluster}`,
    preferences: {},
  });
}

/** The API server's URL on a control-plane host. */
export function apiserverUrl(address: string): string {
  return `https://${address}:${ports.apiserver}`;
}

export interface KubeletInput {
  host: Placement;
  /** Cluster DNS's Service address and the cluster domain, handed to every pod's resolv.conf. */
  clusterDns: string;
  clusterDomain: string;
  /** Tainted so that workloads stay off: a control-plane host that is no worker. */
  controlPlaneOnly: boolean;
}

/**
 * The kubelet's configuration: client certificates from the Kubernetes CA and webhook authorisation
 * (nothing anonymous, no read-only port), containerd with the systemd cgroup driver (containerd's own,
 * see renderContainerdConfig), static pods from the manifests directory.
 *
 * Lab facts (LAB.md): the machines have cgroup v1, which kubelet 1.34 still runs on when told to
 * (failCgroupV1: false); the hosts cannot write kernel sysctls, and the lab's hosts hold the values the
 * kubelet wants already, so it need not protect them. Every kubelet sees the whole machine's CPUs and
 * memory (a container shares the kernel): allocatable is that, less what is reserved here.
 */
export function renderKubeletConfig(i: KubeletInput): string {
  return toYaml({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: i.host.address,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: pkiFiles.ca },
    },
    authorization: { mode: "Webhook" },
    cgroupDriver: "systemd",
    clusterDNS: [i.clusterDns],
    clusterDomain: i.clusterDomain,
    containerRuntimeEndpoint: `unix://${runtimePaths.socket}`,
    failCgroupV1: false,
    failSwapOn: false,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    kubeReserved: { cpu: "100m", memory: "256Mi" },
    protectKernelDefaults: false,
    readOnlyPort: 0,
    registerWithTaints: i.controlPlaneOnly ? [{ ...controlPlaneTaint }] : [],
    rotateCertificates: false,
    serverTLSBootstrap: false,
    staticPodPath: paths.manifests,
    systemReserved: { cpu: "100m", memory: "256Mi" },
    tlsCertFile: pkiFiles.kubeletCert,
    tlsPrivateKeyFile: pkiFiles.kubeletKey,
  });
}

/**
 * The kubelet's unit: the release's kubelet, started after containerd. Its command line is the drop-in's
 * (which replaces ExecStart): here only the binary, as kubeadm's kubelet.service has it.
 */
export function renderKubeletUnit(version: string): string {
  return renderUnitFile({
    Unit: [
      ["Description", `kubelet ${version} (real-world-kubernetes)`],
      ["Documentation", "https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/"],
      ["Wants", containerdUnit],
      ["After", `${containerdUnit} network-online.target`],
    ],
    Service: [
      ["ExecStart", `${runtimePaths.commands}/kubelet`],
      ["Restart", "always"],
      ["RestartSec", "2s"],
      ["StartLimitIntervalSec", "0"],
    ],
    Install: [["WantedBy", "multi-user.target"]],
  });
}

/** The drop-in with what differs per host (kubeadm's 10-kubeadm.conf pattern): its name and address. */
export function renderKubeletDropIn(host: Placement): string {
  return renderUnitFile({
    Service: [
      [
        "ExecStart",
        [
          "",
          `${runtimePaths.commands}/kubelet ${renderFlags({
            config: paths.kubeletConfig,
            "hostname-override": host.name,
            kubeconfig: paths.kubeletKubeconfig,
            "node-ip": host.address,
          }).join(" ")}`,
        ],
      ],
    ],
  });
}

export const kubeletDropIn = `${paths.kubeletUnit}.d/10-rwk.conf`;

/** The helper as pushed: its facts from facts.ts in front of its body. */
export function renderHelperScript(body: string, library: string): string {
  return withFacts(
    body,
    {
      kubelet_unit: kubeletUnitName,
      restart_pending: paths.restartPending,
      applied_config: paths.appliedConfig,
      crictl: `${runtimePaths.commands}/crictl`,
      ca: pkiFiles.ca,
      kubelet_healthz: "http://127.0.0.1:10248/healthz",
      proxy_unit: kubeProxyUnitName,
      proxy_restart_pending: paths.kubeProxyRestartPending,
      proxy_applied_config: paths.kubeProxyAppliedConfig,
      proxy_healthz: `http://127.0.0.1:${ports.kubeProxyHealthz}/healthz`,
      vip_unit: keepalivedUnitName,
      vip_reload_pending: paths.keepalivedReloadPending,
      vip_applied_config: paths.keepalivedAppliedConfig,
      admin_kubeconfig: paths.adminKubeconfig,
      apiserver_manifest: `${paths.manifests}/kube-apiserver.yaml`,
      taint_key: controlPlaneTaint.key,
      taint_effect: controlPlaneTaint.effect,
      controller_manager_port: ports.controllerManager,
      scheduler_port: ports.scheduler,
    },
    "components/kubernetes/facts.ts",
    [library],
  );
}

export interface KubeletFilesInput extends KubeletInput {
  version: string;
  caPem: string;
  /** The node's certificate (CN=system:node:<host>) and key. */
  certPem: string;
  keyPem: string;
  /** The API server the kubelet registers with. */
  apiserver: string;
  /** The body of the rwk-kube helper (components/kubernetes/rwk-kube.sh). */
  script: string;
  /** The functions it starts the kubelet with (components/host/rwk-unit.sh). */
  library: string;
}

/** Every file a node's kubelet needs, as one list. */
export function kubeletFiles(i: KubeletFilesInput): HostFile[] {
  const root = "root:root";
  return [
    { path: pkiFiles.ca, mode: "0644", owner: root, content: i.caPem, onChange: "restart" },
    { path: pkiFiles.kubeletCert, mode: "0644", owner: root, content: i.certPem, onChange: "restart" },
    { path: pkiFiles.kubeletKey, mode: "0600", owner: root, content: i.keyPem, onChange: "restart" },
    {
      path: paths.kubeletKubeconfig,
      mode: "0600",
      owner: root,
      content: renderKubeconfig({
        server: i.apiserver,
        caPem: i.caPem,
        user: `system:node:${i.host.name}`,
        certPem: i.certPem,
        keyPem: i.keyPem,
      }),
      onChange: "restart",
    },
    {
      path: paths.kubeletConfig,
      mode: "0644",
      owner: root,
      content: renderKubeletConfig(i),
      onChange: "restart",
    },
    {
      path: paths.kubeletUnit,
      mode: "0644",
      owner: root,
      content: renderKubeletUnit(i.version),
      onChange: "restart",
    },
    {
      path: kubeletDropIn,
      mode: "0644",
      owner: root,
      content: renderKubeletDropIn(i.host),
      onChange: "restart",
    },
    {
      path: paths.script,
      mode: "0755",
      owner: root,
      content: renderHelperScript(i.script, i.library),
      onChange: "none",
    },
  ];
}

// --- kube-proxy ---------------------------------------------------------------------------------------

export interface KubeProxyInput {
  host: Placement;
  /** The stack's pod CIDR: traffic to a Service from outside it is masqueraded. */
  podCidr: string;
}

/**
 * kube-proxy's configuration: iptables mode, its identity from its kubeconfig, health and metrics on
 * loopback. Lab fact: a host shares the machine's kernel, whose conntrack table size and timeouts are the
 * machine's to set (kind does the same): zero leaves each as it is.
 */
export function renderKubeProxyConfig(i: KubeProxyInput): string {
  return toYaml({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    bindAddress: i.host.address,
    clientConnection: { kubeconfig: paths.kubeProxyKubeconfig },
    clusterCIDR: i.podCidr,
    conntrack: { maxPerCore: 0, tcpCloseWaitTimeout: "0s", tcpEstablishedTimeout: "0s" },
    healthzBindAddress: `127.0.0.1:${ports.kubeProxyHealthz}`,
    hostnameOverride: i.host.name,
    metricsBindAddress: `127.0.0.1:${ports.kubeProxyMetrics}`,
    mode: "iptables",
  });
}

/** kube-proxy's unit: the release's kube-proxy with its configuration, after the network is up. */
export function renderKubeProxyUnit(version: string): string {
  return renderUnitFile({
    Unit: [
      ["Description", `kube-proxy ${version} (real-world-kubernetes)`],
      ["Documentation", "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-proxy/"],
      ["After", "network-online.target"],
    ],
    Service: [
      ["ExecStart", `${runtimePaths.commands}/kube-proxy --config=${paths.kubeProxyConfig}`],
      ["Restart", "always"],
      ["RestartSec", "2s"],
      ["StartLimitIntervalSec", "0"],
    ],
    Install: [["WantedBy", "multi-user.target"]],
  });
}

export interface KubeProxyFilesInput extends KubeProxyInput {
  version: string;
  /** The API server it watches Services and EndpointSlices on. */
  apiserver: string;
  caPem: string;
  /** kube-proxy's certificate (CN=system:kube-proxy) and key. */
  certPem: string;
  keyPem: string;
}

/** Every file of a node's kube-proxy, as one list; each is read at start. */
export function kubeProxyFiles(i: KubeProxyFilesInput): HostFile[] {
  const root = "root:root";
  return [
    {
      path: paths.kubeProxyKubeconfig,
      mode: "0600",
      owner: root,
      content: renderKubeconfig({
        server: i.apiserver,
        caPem: i.caPem,
        user: identities.kubeProxy.commonName,
        certPem: i.certPem,
        keyPem: i.keyPem,
      }),
      onChange: "restart",
    },
    {
      path: paths.kubeProxyConfig,
      mode: "0644",
      owner: root,
      content: renderKubeProxyConfig(i),
      onChange: "restart",
    },
    {
      path: paths.kubeProxyUnit,
      mode: "0644",
      owner: root,
      content: renderKubeProxyUnit(i.version),
      onChange: "restart",
    },
  ];
}

// --- the control plane --------------------------------------------------------------------------------

/**
 * The API server's authentication: client certificates of the Kubernetes CA and service-account tokens;
 * anonymous requests only for the health checks (a load balancer's, the kubelet's probes), everything
 * else unauthenticated is refused before authorisation is even asked.
 */
export function renderAuthenticationConfig(): string {
  return toYaml({
    apiVersion: "apiserver.config.k8s.io/v1beta1",
    kind: "AuthenticationConfiguration",
    anonymous: { enabled: true, conditions: [{ path: "/livez" }, { path: "/readyz" }, { path: "/healthz" }] },
  });
}

/** The label on a static pod that names the inputs it runs with: a new value is a new pod. */
export const inputsLabel = "real-world-kubernetes/inputs";

export interface ControlPlaneInput {
  host: Placement;
  /** Image references, from the stack's Kubernetes release. */
  images: Record<ControlPlaneComponent, string>;
  /** Every etcd member's client URL. */
  etcdServers: string[];
  serviceCidr: string;
  clusterDomain: string;
  /**
   * The etcd restore the cluster came from (its restore id), if any. When etcd's revision goes back, an
   * API server's watch cache and its clients' informers hold objects newer than etcd's: a new restore
   * id changes every manifest, so the kubelet starts the whole control plane afresh (the workshop
   * restarted it by hand).
   */
  etcdRestore?: string;
  /** The controller manager's and scheduler's Lease timings. */
  leaderElection: LeaderElection;
}

/** The annotation that names the etcd restore a control-plane pod started after. */
export const etcdRestoreAnnotation = "real-world-kubernetes/etcd-restore";

const pkiMount: VolumeMount = { name: "k8s-certs", mountPath: paths.pki, readOnly: true };
const pkiVolume: Volume = { name: "k8s-certs", hostPath: { path: paths.pki, type: "DirectoryOrCreate" } };

/** A file of the host, read-only in the pod at the same path. */
function hostFileVolume(name: string, file: string): { mount: VolumeMount; volume: Volume } {
  return {
    mount: { name, mountPath: file, readOnly: true },
    volume: { name, hostPath: { path: file, type: "FileOrCreate" } },
  };
}

function probe(host: string, path: string, port: number, failureThreshold: number) {
  return {
    httpGet: { host, path, port, scheme: "HTTPS" },
    initialDelaySeconds: 10,
    periodSeconds: 10,
    timeoutSeconds: 15,
    failureThreshold,
  };
}

/** A control-plane static pod: host network, critical priority, the default seccomp profile. */
function staticPod(
  component: ControlPlaneComponent,
  i: Pick<ControlPlaneInput, "etcdRestore">,
  spec: {
    image: string;
    command: string[];
    cpu: string;
    probeHost: string;
    port: number;
    readiness?: string;
    volumes: { mount: VolumeMount; volume: Volume }[];
  },
): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: component,
      namespace: "kube-system",
      labels: { component, tier: "control-plane" },
      ...(i.etcdRestore ? { annotations: { [etcdRestoreAnnotation]: i.etcdRestore } } : {}),
    },
    spec: {
      hostNetwork: true,
      priority: 2000001000,
      priorityClassName: "system-node-critical",
      securityContext: { seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: component,
          image: spec.image,
          imagePullPolicy: "IfNotPresent",
          command: spec.command,
          resources: { requests: { cpu: spec.cpu } },
          livenessProbe: probe(
            spec.probeHost,
            component === "kube-apiserver" ? "/livez" : "/healthz",
            spec.port,
            8,
          ),
          ...(spec.readiness
            ? {
                readinessProbe: {
                  ...probe(spec.probeHost, spec.readiness, spec.port, 3),
                  initialDelaySeconds: 0,
                  periodSeconds: 1,
                },
              }
            : {}),
          startupProbe: probe(
            spec.probeHost,
            component === "kube-apiserver" ? "/livez" : "/healthz",
            spec.port,
            24,
          ),
          volumeMounts: spec.volumes.map((v) => v.mount),
        },
      ],
      volumes: spec.volumes.map((v) => v.volume),
    },
  };
}

/**
 * kube-apiserver: every etcd member over mutual TLS with the etcd CA's client certificate; the
 * Kubernetes CA for clients (so an etcd certificate is no identity here) and for the kubelets' serving
 * certificates; Node and RBAC authorisation with NodeRestriction; service-account tokens signed here.
 */
export function renderApiserverPod(i: ControlPlaneInput): Pod {
  const flags = {
    "advertise-address": i.host.address,
    "allow-privileged": true,
    "authentication-config": paths.authenticationConfig,
    "authorization-mode": "Node,RBAC",
    "client-ca-file": pkiFiles.ca,
    "enable-admission-plugins": "NodeRestriction",
    "etcd-cafile": pkiFiles.etcdCa,
    "etcd-certfile": pkiFiles.apiserverEtcdClientCert,
    "etcd-keyfile": pkiFiles.apiserverEtcdClientKey,
    "etcd-servers": i.etcdServers.join(","),
    "kubelet-certificate-authority": pkiFiles.ca,
    "kubelet-client-certificate": pkiFiles.apiserverKubeletClientCert,
    "kubelet-client-key": pkiFiles.apiserverKubeletClientKey,
    "kubelet-preferred-address-types": "InternalIP,Hostname",
    profiling: false,
    "secure-port": ports.apiserver,
    "service-account-issuer": `https://kubernetes.default.svc.${i.clusterDomain}`,
    "service-account-key-file": pkiFiles.serviceAccountPublicKey,
    "service-account-signing-key-file": pkiFiles.serviceAccountKey,
    "service-cluster-ip-range": i.serviceCidr,
    "tls-cert-file": pkiFiles.apiserverCert,
    "tls-private-key-file": pkiFiles.apiserverKey,
  };
  const authn = hostFileVolume("authentication-config", paths.authenticationConfig);
  return staticPod("kube-apiserver", i, {
    image: i.images["kube-apiserver"],
    command: ["kube-apiserver", ...renderFlags(flags)],
    cpu: "250m",
    probeHost: i.host.address,
    port: ports.apiserver,
    readiness: "/readyz",
    volumes: [{ mount: pkiMount, volume: pkiVolume }, authn],
  });
}

/**
 * Flags the controller manager and scheduler share: their kubeconfig (their own host's API server, as
 * kubeadm has it), delegated authn/z, and leader election: one of each runs, the others wait on its Lease.
 */
function componentFlags(kubeconfig: string, lease: LeaderElection): Record<string, string | boolean> {
  return {
    "authentication-kubeconfig": kubeconfig,
    "authorization-kubeconfig": kubeconfig,
    "bind-address": "127.0.0.1",
    kubeconfig,
    "leader-elect": true,
    "leader-elect-lease-duration": `${lease.leaseDuration}s`,
    "leader-elect-renew-deadline": `${lease.renewDeadline}s`,
    "leader-elect-retry-period": `${lease.retryPeriod}s`,
    profiling: false,
  };
}

/** kube-controller-manager: service-account tokens' key and root CA, its own credentials per controller. */
export function renderControllerManagerPod(i: ControlPlaneInput): Pod {
  const flags = {
    ...componentFlags(paths.controllerManagerKubeconfig, i.leaderElection),
    "client-ca-file": pkiFiles.ca,
    "cluster-name": "real-world-kubernetes",
    "root-ca-file": pkiFiles.ca,
    "service-account-private-key-file": pkiFiles.serviceAccountKey,
    "service-cluster-ip-range": i.serviceCidr,
    "use-service-account-credentials": true,
  };
  return staticPod("kube-controller-manager", i, {
    image: i.images["kube-controller-manager"],
    command: ["kube-controller-manager", ...renderFlags(flags)],
    cpu: "200m",
    probeHost: "127.0.0.1",
    port: ports.controllerManager,
    volumes: [
      { mount: pkiMount, volume: pkiVolume },
      hostFileVolume("kubeconfig", paths.controllerManagerKubeconfig),
    ],
  });
}

export function renderSchedulerPod(i: ControlPlaneInput): Pod {
  return staticPod("kube-scheduler", i, {
    image: i.images["kube-scheduler"],
    command: ["kube-scheduler", ...renderFlags(componentFlags(paths.schedulerKubeconfig, i.leaderElection))],
    cpu: "100m",
    probeHost: "127.0.0.1",
    port: ports.scheduler,
    volumes: [hostFileVolume("kubeconfig", paths.schedulerKubeconfig)],
  });
}

/**
 * A static pod's manifest, labelled with the hash of the manifest and of the files the pod reads: a new
 * certificate or kubeconfig changes the manifest, so the kubelet replaces that pod and no other.
 */
export function renderManifest(pod: Pod, reads: HostFile[]): { content: string; inputs: string } {
  const inputs = hashFiles([
    ...reads,
    { path: "manifest", mode: "0600", owner: "", content: toYaml(pod), onChange: "none" },
  ]);
  const labelled = {
    ...pod,
    metadata: {
      ...(pod.metadata as object),
      labels: { ...(pod.metadata as { labels: object }).labels, [inputsLabel]: inputs },
    },
  };
  return { content: toYaml(labelled), inputs };
}

export interface ControlPlaneFilesInput extends ControlPlaneInput {
  caPem: string;
  etcdCaPem: string;
  /** Certificates and keys by pkiFiles' names (apiserverCert, apiserverKey, ...). */
  apiserverCert: string;
  apiserverKey: string;
  apiserverKubeletClientCert: string;
  apiserverKubeletClientKey: string;
  apiserverEtcdClientCert: string;
  apiserverEtcdClientKey: string;
  serviceAccountPublicKey: string;
  serviceAccountKey: string;
  controllerManager: { certPem: string; keyPem: string };
  scheduler: { certPem: string; keyPem: string };
  /** The admin's identity, for admin.conf (nodes are drained from a control-plane host). */
  admin: { certPem: string; keyPem: string };
}

/** The manifest file of a component. */
export function manifestPath(component: ControlPlaneComponent): string {
  return `${paths.manifests}/${component}.yaml`;
}

/**
 * Every file of a control-plane host: certificates and keys, kubeconfigs, the authentication
 * configuration, and the three static pods, each labelled with what it reads (renderManifest). The
 * kubelet watches the manifests (reload); the components read the rest at start, which a new manifest is.
 */
export function controlPlaneFiles(i: ControlPlaneFilesInput): {
  files: HostFile[];
  inputs: Record<ControlPlaneComponent, string>;
} {
  const root = "root:root";
  const file = (path: string, content: string, mode: HostFile["mode"] = "0600"): HostFile => ({
    path,
    mode,
    owner: root,
    content,
    onChange: "none",
  });
  const server = apiserverUrl(i.host.address);
  const kubeconfig = (path: string, user: string, c: { certPem: string; keyPem: string }) =>
    file(path, renderKubeconfig({ server, caPem: i.caPem, user, certPem: c.certPem, keyPem: c.keyPem }));
  const ca = file(pkiFiles.ca, i.caPem, "0644");
  const apiserverReads = [
    ca,
    file(pkiFiles.apiserverCert, i.apiserverCert, "0644"),
    file(pkiFiles.apiserverKey, i.apiserverKey),
    file(pkiFiles.apiserverKubeletClientCert, i.apiserverKubeletClientCert, "0644"),
    file(pkiFiles.apiserverKubeletClientKey, i.apiserverKubeletClientKey),
    file(pkiFiles.etcdCa, i.etcdCaPem, "0644"),
    file(pkiFiles.apiserverEtcdClientCert, i.apiserverEtcdClientCert, "0644"),
    file(pkiFiles.apiserverEtcdClientKey, i.apiserverEtcdClientKey),
    file(pkiFiles.serviceAccountPublicKey, i.serviceAccountPublicKey, "0644"),
    file(paths.authenticationConfig, renderAuthenticationConfig(), "0644"),
  ];
  const saKey = file(pkiFiles.serviceAccountKey, i.serviceAccountKey);
  const cmKubeconfig = kubeconfig(
    paths.controllerManagerKubeconfig,
    "system:kube-controller-manager",
    i.controllerManager,
  );
  const schedKubeconfig = kubeconfig(paths.schedulerKubeconfig, "system:kube-scheduler", i.scheduler);
  const pods: [ControlPlaneComponent, Pod, HostFile[]][] = [
    ["kube-apiserver", renderApiserverPod(i), [...apiserverReads, saKey]],
    ["kube-controller-manager", renderControllerManagerPod(i), [ca, saKey, cmKubeconfig]],
    ["kube-scheduler", renderSchedulerPod(i), [schedKubeconfig]],
  ];
  const inputs = {} as Record<ControlPlaneComponent, string>;
  const manifests = pods.map(([component, pod, reads]) => {
    const m = renderManifest(pod, reads);
    inputs[component] = m.inputs;
    // The kubelet watches the directory and replaces a pod whose manifest changed.
    return { ...file(manifestPath(component), m.content), onChange: "reload" as const };
  });
  // The CA is the kubelet's file (kubeletFiles): every node has it, a control-plane host reads it too.
  const admin = kubeconfig(paths.adminKubeconfig, identities.admin.commonName, i.admin);
  const own = [
    ...apiserverReads.filter((f) => f.path !== pkiFiles.ca),
    saKey,
    cmKubeconfig,
    schedKubeconfig,
    admin,
  ];
  return { files: [...own, ...manifests], inputs };
}

export interface KeepalivedInput {
  host: Placement;
  /** The host's interface on the lab network, which holds its address. */
  nic: string;
  /** The other control-plane hosts' addresses: VRRP goes to them by unicast, no multicast needed. */
  peers: string[];
  virtualIp: string;
  /** Its place in the stack's controlPlane list, from 0: the earlier, the likelier it wins an election. */
  rank: number;
}

/**
 * keepalived on a control-plane host (kubeadm's HA guide, kube-vip's ARP mode): one VRRP router whose
 * master holds the virtual IP; a host holds it only while its own API server answers /readyz. Every
 * instance starts as a backup and none preempts, so the address stays where it is when a host comes
 * back: only a failure moves it. An election goes to the live host listed first in controlPlane. The
 * master advertises every second; the others take over ~3.6 s after it falls silent, or at once when its
 * check fails twice and it steps down.
 *
 * Slow is not dead: on a busy host (three API servers starting on two cores) /readyz can take seconds,
 * and a check that gives up after one second moved the address between hosts that were all fine,
 * breaking the connections through it. A stopped API server refuses at once, so its check fails as fast
 * with a longer bound; only a hung one takes longer (two checks of up to 3 s). keepalived runs at a high
 * priority (nice -15, its check too) so that a busy host still advertises on time.
 */
export function renderKeepalivedConfig(i: KeepalivedInput): string {
  const readyz = `https://127.0.0.1:${ports.apiserver}/readyz`;
  const lines = [
    "# real-world-kubernetes: the API servers' virtual IP (components/kubernetes/render.ts)",
    "global_defs {",
    `  router_id ${i.host.name}`,
    "  enable_script_security",
    "  script_user root",
    "  vrrp_priority -15",
    "}",
    "vrrp_script apiserver_ready {",
    `  script "/usr/bin/curl -fsk --max-time 3 -o /dev/null ${readyz}"`,
    "  interval 1",
    "  timeout 4",
    "  fall 2",
    "  rise 2",
    "}",
    "vrrp_instance apiserver {",
    "  state BACKUP",
    "  nopreempt",
    `  interface ${i.nic}`,
    `  virtual_router_id ${apiVirtualRouterId}`,
    `  priority ${150 - i.rank}`,
    "  advert_int 1",
    `  unicast_src_ip ${i.host.address}`,
    "  unicast_peer {",
    ...i.peers.map((p) => `    ${p}`),
    "  }",
    "  virtual_ipaddress {",
    `    ${i.virtualIp}/32 dev ${i.nic}`,
    "  }",
    "  track_script {",
    "    apiserver_ready",
    "  }",
    "}",
  ];
  return `${lines.join("\n")}\n`;
}

/** keepalived's files: its configuration, which keepalived reads again on a reload. */
export function keepalivedFiles(i: KeepalivedInput): HostFile[] {
  return [
    {
      path: paths.keepalivedConfig,
      mode: "0644",
      owner: "root:root",
      content: renderKeepalivedConfig(i),
      onChange: "restart",
    },
  ];
}
