// Pure renderers of the cluster's workloads as Kubernetes objects (the API types of @pulumi/kubernetes):
// the workshop's pause Deployment, a small HTTP service the drills measure, and cluster DNS (CoreDNS).
// workloads.ts makes them resources of the stack; the benchmark's plain script applies the same objects
// with kubectl. Every image is on every node already (NodeRuntime imports them; no registry is
// reachable), so nothing is ever pulled.
import type * as k8s from "@pulumi/kubernetes";
import { imageRefs } from "../runtime/images";
import { controlPlaneTaint, webNodePort } from "./facts";

type Toleration = k8s.types.input.core.v1.Toleration;
/** An object of the API types with the apiVersion and kind the API server wants, as a manifest names them. */
type Typed<T, ApiVersion extends string, Kind extends string> = T & { apiVersion: ApiVersion; kind: Kind };
type Rbac = "rbac.authorization.k8s.io/v1";
export type Deployment = Typed<k8s.types.input.apps.v1.Deployment, "apps/v1", "Deployment">;
export type Service = Typed<k8s.types.input.core.v1.Service, "v1", "Service">;
export type PodDisruptionBudget = Typed<
  k8s.types.input.policy.v1.PodDisruptionBudget,
  "policy/v1",
  "PodDisruptionBudget"
>;
export type ServiceAccount = Typed<k8s.types.input.core.v1.ServiceAccount, "v1", "ServiceAccount">;
export type ClusterRole = Typed<k8s.types.input.rbac.v1.ClusterRole, Rbac, "ClusterRole">;
export type ClusterRoleBinding = Typed<
  k8s.types.input.rbac.v1.ClusterRoleBinding,
  Rbac,
  "ClusterRoleBinding"
>;
export type ConfigMap = Typed<k8s.types.input.core.v1.ConfigMap, "v1", "ConfigMap">;

/**
 * How long a pod stays bound to a NotReady or unreachable node before it is evicted. Undefined: none
 * written, and the API server's DefaultTolerationSeconds admission plugin adds its 300 s.
 */
export function evictionTolerations(seconds: number | undefined): Toleration[] {
  if (seconds === undefined) return [];
  return ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"].map((key) => ({
    key,
    operator: "Exists",
    effect: "NoExecute",
    tolerationSeconds: seconds,
  }));
}

/**
 * Spread over the nodes where it can, so a lost node takes as few replicas as possible with it; each
 * rollout spreads its own pods (pod-template-hash), so the next rollout spreads them again after a lost
 * node's pods all landed on the survivors. Never a reason to leave a pod Pending.
 */
function spreadOverNodes(labels: Record<string, string>): k8s.types.input.core.v1.TopologySpreadConstraint[] {
  return [
    {
      maxSkew: 1,
      topologyKey: "kubernetes.io/hostname",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels: labels },
      matchLabelKeys: ["pod-template-hash"],
    },
  ];
}

/** With no worker the pods stay Pending: `up` does not wait for them (the provider's skipAwait). */
export function awaitUnlessNoWorkers(workers: number): Record<string, string> {
  return workers === 0 ? { "pulumi.com/skipAwait": "true" } : {};
}

export interface PauseArgs {
  replicas: number;
  /** How many workers the stack has: with none, nothing can run the pods. */
  workers: number;
  kubernetesVersion: string;
  tolerationSeconds: number | undefined;
}

/**
 * The workshop's "really boring application" (`kubectl run pause`): a Deployment of the pause image. With
 * no worker its pods stay Pending, as in the workshop; with workers they spread over them.
 */
export function renderPause(args: PauseArgs): Deployment {
  const labels = { app: "pause" };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "pause",
      namespace: "default",
      labels,
      annotations: awaitUnlessNoWorkers(args.workers),
    },
    spec: {
      replicas: args.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: "pause",
              image: imageRefs(args.kubernetesVersion).pause,
              imagePullPolicy: "Never",
              resources: { requests: { cpu: "10m", memory: "8Mi" }, limits: { memory: "16Mi" } },
            },
          ],
          topologySpreadConstraints: spreadOverNodes(labels),
          tolerations: evictionTolerations(args.tolerationSeconds),
          terminationGracePeriodSeconds: 5,
        },
      },
    },
  };
}

export interface WebArgs {
  replicas: number;
  /** The PodDisruptionBudget's minAvailable (validated below replicas). */
  minAvailable: number;
  workers: number;
  kubernetesVersion: string;
  tolerationSeconds: number | undefined;
}

/**
 * How long a web pod told to stop keeps serving first: longer than its removal from the Service takes to
 * reach every node's rules (kube-proxy syncs them at most once a second, later on a busy host).
 */
export const webDrainSeconds = 5;

/**
 * A small HTTP service whose availability the drills measure: busybox httpd answering with its pod's name,
 * spread over the workers, behind the Service "web" (a ClusterIP, and NodePort webNodePort on every node),
 * with a PodDisruptionBudget that a drain respects.
 */
export function renderWeb(args: WebArgs): {
  deployment: Deployment;
  service: Service;
  budget: PodDisruptionBudget;
} {
  const labels = { app: "web" };
  const metadata = { name: "web", namespace: "default", labels };
  // PID 1 handles SIGTERM (busybox's sh as PID 1 would ignore it and every stop would wait out its grace).
  const script =
    "trap 'exit 0' TERM; mkdir -p /www && echo \"$HOSTNAME\" >/www/index.html && " +
    "httpd -f -p 8080 -h /www & wait";
  return {
    deployment: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { ...metadata, annotations: awaitUnlessNoWorkers(args.workers) },
      spec: {
        replicas: args.replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: "httpd",
                image: imageRefs(args.kubernetesVersion).busybox,
                imagePullPolicy: "Never",
                command: ["sh", "-c", script],
                ports: [{ name: "http", containerPort: 8080 }],
                readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 2 },
                // A pod being evicted (a drain) still serves until every kube-proxy has taken it out of
                // the Service: without this wait it stops at once, and the requests that the rules still
                // send its way fail (9 of 1216 through a NodePort during the upgrade drill's roll).
                // The kubelet's own sleep: nothing to exec in the container.
                lifecycle: { preStop: { sleep: { seconds: webDrainSeconds } } },
                resources: { requests: { cpu: "10m", memory: "8Mi" }, limits: { memory: "32Mi" } },
              },
            ],
            topologySpreadConstraints: spreadOverNodes(labels),
            tolerations: evictionTolerations(args.tolerationSeconds),
            // The preStop wait, then SIGTERM, which the script handles at once.
            terminationGracePeriodSeconds: webDrainSeconds + 5,
          },
        },
      },
    },
    service: {
      apiVersion: "v1",
      kind: "Service",
      // The provider waits for a ready endpoint: with no worker there is none.
      metadata: { ...metadata, annotations: awaitUnlessNoWorkers(args.workers) },
      spec: {
        type: "NodePort",
        selector: labels,
        ports: [{ name: "http", port: 80, targetPort: "http", nodePort: webNodePort }],
      },
    },
    budget: {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata,
      spec: { minAvailable: args.minAvailable, selector: { matchLabels: labels } },
    },
  };
}

export interface ClusterDnsArgs {
  kubernetesVersion: string;
  /** The Service address every kubelet hands its pods as their nameserver. */
  clusterIp: string;
  clusterDomain: string;
  tolerationSeconds: number | undefined;
}

/** CoreDNS's configuration: the cluster domain's names, health and readiness, metrics, a cache. */
export function renderCorefile(clusterDomain: string): string {
  return [
    ".:53 {",
    "    errors",
    "    health {",
    "        lameduck 5s",
    "    }",
    "    ready",
    `    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {`,
    "        pods insecure",
    "        fallthrough in-addr.arpa ip6.arpa",
    "        ttl 30",
    "    }",
    "    prometheus :9153",
    "    cache 30",
    "    reload",
    "    loadbalance",
    "}",
    "",
  ].join("\n");
}

/**
 * Cluster DNS as kubeadm deploys it: CoreDNS (built here) with read access to Services, EndpointSlices and
 * namespaces, two replicas, behind the Service kube-dns at the address the kubelets hand out. It answers
 * for the cluster domain only: the lab has no upstream resolver to forward anything else to.
 */
export function renderClusterDns(args: ClusterDnsArgs): {
  account: ServiceAccount;
  role: ClusterRole;
  binding: ClusterRoleBinding;
  config: ConfigMap;
  deployment: Deployment;
  service: Service;
} {
  const namespace = "kube-system";
  const labels = { "k8s-app": "kube-dns" };
  return {
    account: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "coredns", namespace } },
    role: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "system:coredns" },
      rules: [
        {
          apiGroups: [""],
          resources: ["endpoints", "services", "pods", "namespaces"],
          verbs: ["list", "watch"],
        },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ],
    },
    binding: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "system:coredns" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
      subjects: [{ kind: "ServiceAccount", name: "coredns", namespace }],
    },
    config: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "coredns", namespace },
      data: { Corefile: renderCorefile(args.clusterDomain) },
    },
    deployment: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "coredns", namespace, labels },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "coredns",
            priorityClassName: "system-cluster-critical",
            // DNS may run on a control-plane host too (kubeadm's choice): it outlives a worker's loss.
            tolerations: [
              { key: "CriticalAddonsOnly", operator: "Exists" },
              { key: controlPlaneTaint.key, effect: controlPlaneTaint.effect },
              ...evictionTolerations(args.tolerationSeconds),
            ],
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      labelSelector: { matchLabels: labels },
                      topologyKey: "kubernetes.io/hostname",
                    },
                  },
                ],
              },
            },
            containers: [
              {
                name: "coredns",
                image: imageRefs(args.kubernetesVersion).coredns,
                imagePullPolicy: "Never",
                args: ["-conf", "/etc/coredns/Corefile"],
                ports: [
                  { name: "dns", containerPort: 53, protocol: "UDP" },
                  { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
                  { name: "metrics", containerPort: 9153, protocol: "TCP" },
                ],
                livenessProbe: {
                  httpGet: { path: "/health", port: 8080 },
                  initialDelaySeconds: 60,
                  timeoutSeconds: 5,
                  failureThreshold: 5,
                },
                readinessProbe: { httpGet: { path: "/ready", port: 8181 }, periodSeconds: 2 },
                resources: { requests: { cpu: "50m", memory: "40Mi" }, limits: { memory: "128Mi" } },
                // As upstream's: a user, binding 53 by the capability alone.
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] },
                  readOnlyRootFilesystem: true,
                },
                volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
              },
            ],
            dnsPolicy: "Default",
            volumes: [
              {
                name: "config",
                configMap: { name: "coredns", items: [{ key: "Corefile", path: "Corefile" }] },
              },
            ],
          },
        },
      },
    },
    service: {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kube-dns", namespace, labels },
      spec: {
        clusterIP: args.clusterIp,
        selector: labels,
        ports: [
          { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
          { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
          { name: "metrics", port: 9153, protocol: "TCP", targetPort: 9153 },
        ],
      },
    },
  };
}
