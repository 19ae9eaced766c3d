// Facts about a host's container runtime, defined once: the program renders them into what it pushes
// (containerd's config, crictl's, the CNI network, the rwk-runtime helper, whose variables come from
// here), and tests import them.
import { cluster } from "../../versions.json";

/** Where things live on a host with a Kubernetes role. */
export const paths = {
  /** The runtime helper (components/runtime/rwk-runtime.sh with these facts rendered into it). */
  script: "/usr/local/sbin/rwk-runtime",
  containerdConfig: "/etc/containerd/config.toml",
  /** containerd's CRI socket: crictl's endpoint, and the kubelet's later. */
  socket: "/run/containerd/containerd.sock",
  crictlConfig: "/etc/crictl.yaml",
  /** Where containerd's CRI looks for CNI plugins: a link to the release's directory. */
  cniBin: "/opt/cni/bin",
  cniConfDir: "/etc/cni/net.d",
  cniConf: "/etc/cni/net.d/10-rwk-bridge.conflist",
  /** Released binaries, one directory per component and version (as etcd's: kubernetes-v1.34.4/). */
  binaries: "/opt/rwk",
  /** Where the commands people and the kubelet's unit call are linked from the release directories. */
  commands: "/usr/local/bin",
  /** Image archives on their way into containerd: each is removed once imported. */
  imageArchives: "/var/lib/rwk-runtime/images",
  /**
   * Present while a file containerd reads only at start changed after containerd last started (the
   * install script creates it, `rwk-runtime start` removes it when it starts containerd).
   */
  restartPending: "/var/lib/rwk-runtime/restart-pending",
  /** The hash of the configuration containerd runs, for people (`rwk-runtime start --config` records it). */
  appliedConfig: "/var/lib/rwk-runtime/config",
  /** The routes to the other nodes' pod subnets, one "<subnet> <gateway>" per line (rwk-runtime routes). */
  podRoutes: "/etc/rwk-runtime/pod-routes",
  /** The oneshot unit that puts those routes in place at every boot. */
  podRoutesUnit: "/etc/systemd/system/rwk-pod-routes.service",
} as const;

export const podRoutesUnitName = "rwk-pod-routes.service";

/** The routing protocol number our pod routes carry, so ours are told apart from anyone else's. */
export const podRouteProtocol = 99;

export const unit = "containerd.service";

/** containerd's namespace of the images and containers the CRI serves (the kubelet's, and crictl's). */
export const criNamespace = "k8s.io";

/** The releases of the container tools, pinned in versions.json. */
export const toolVersions = { crictl: cluster.crictl, cniPlugins: cluster.cniPlugins } as const;

/**
 * The pod network the lab's bridge CNI config hands addresses from: each host a /24 of the stack's pod
 * CIDR (a /16, config `podCidr`), numbered by the last byte of its lab address (core-02 at .102:
 * 10.244.102.0/24), so two hosts never hand out the same pod IP.
 */
export const podNetwork = { bridge: "cni0", name: "rwk-pods" } as const;

/** The releases built on the workstation that the runtime copies to its host. */
export type Release = "cni-plugins" | "crictl" | "kubernetes";

/** Where a component's release is on a host. */
export function releaseDir(component: Release, version: string): string {
  return `${paths.binaries}/${component}-v${version}`;
}

/** The Kubernetes binaries every host with a role runs itself; the control plane runs from images. */
export const nodeBinaries = ["kubelet", "kube-proxy", "kubectl"] as const;
