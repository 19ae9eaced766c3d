// Pure renderers for everything pushed to a host's container runtime. Each takes plain typed input and
// returns the exact file content or command, so tests can snapshot them and Pulumi can hash them.
import * as yaml from "js-yaml";
import { stringify as toToml } from "smol-toml";
import type { HostFile } from "../host/files";
import { shellCommand, withFacts } from "../host/shell";
import { renderUnitFile } from "../host/systemd";
import {
  criNamespace,
  nodeBinaries,
  paths,
  podNetwork,
  podRouteProtocol,
  releaseDir,
  toolVersions,
  unit,
} from "./facts";
import type { Release } from "./facts";

/**
 * containerd's configuration (version 2, containerd 1.6). The cgroup driver is systemd's: in a lab host
 * (systemd-nspawn, cgroup v1) systemd is init and, once the host's container mounts made the controllers
 * writable and re-executed it (lab/images/image.sh), manages every v1 hierarchy of the host for its own
 * services too; runc writing the same hierarchies behind its back (the cgroupfs driver) would make two
 * managers of one tree, the split the kubelet's documentation warns about. The same holds in a VM and on
 * a host of your own, so every host gets one configuration. restrict_oom_score_adj: the hosts lack
 * CAP_SYS_RESOURCE, and without it every sandbox fails ("can't get final child's PID from pipe").
 */
export function renderContainerdConfig(sandboxImage: string): string {
  const cri = "io.containerd.grpc.v1.cri";
  return [
    "# Managed by real-world-kubernetes (Pulumi); changes are overwritten.",
    toToml({
      version: 2,
      plugins: {
        [cri]: {
          restrict_oom_score_adj: true,
          // containerd 2's defaults: a pod's processes may bind ports below 1024 and ping without
          // privileges (CoreDNS runs as a user and binds 53).
          enable_unprivileged_icmp: true,
          enable_unprivileged_ports: true,
          sandbox_image: sandboxImage,
          cni: { bin_dir: paths.cniBin, conf_dir: paths.cniConfDir },
          containerd: {
            default_runtime_name: "runc",
            snapshotter: "overlayfs",
            runtimes: {
              runc: { runtime_type: "io.containerd.runc.v2", options: { SystemdCgroup: true } },
            },
          },
        },
      },
    }),
  ].join("\n");
}

/** crictl's endpoints: containerd's CRI socket, for images and runtime alike. */
export function renderCrictlConfig(): string {
  return [
    "# Managed by real-world-kubernetes (Pulumi); changes are overwritten.",
    yaml.dump({
      "runtime-endpoint": `unix://${paths.socket}`,
      "image-endpoint": `unix://${paths.socket}`,
      timeout: 10,
    }),
  ].join("\n");
}

/**
 * The host's pod subnet (see podNetwork): the /24 of the pod CIDR (a /16) numbered by the last byte of
 * the host's address.
 */
export function podSubnetOf(address: string, podCidr: string): string {
  const last = Number(address.split(".")[3]);
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address) || last < 1 || last > 254)
    throw new Error(`no pod subnet for host address ${JSON.stringify(address)}`);
  const m = /^(\d{1,3}\.\d{1,3})\.0\.0\/16$/.exec(podCidr);
  if (!m) throw new Error(`pod CIDR ${JSON.stringify(podCidr)} is not a /16`);
  return `${m[1]}.${last}.0/24`;
}

/**
 * The pod network of a host: a bridge with host-local addresses from the host's pod subnet, the bridge
 * the gateway and masquerading traffic that leaves the subnet (pods reach the lab network through their
 * host), and portmap for hostPort. Routes between hosts' pod subnets come with the cluster network.
 */
export function renderCniConfig(address: string, podCidr: string): string {
  const config = {
    cniVersion: "1.0.0",
    name: podNetwork.name,
    plugins: [
      {
        type: "bridge",
        bridge: podNetwork.bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: podSubnetOf(address, podCidr) }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** A route to another node's pod subnet: through that node's lab address. */
export interface PodRoute {
  subnet: string;
  gateway: string;
}

/**
 * The routes between nodes' pod subnets (Kubernetes the Hard Way's way): every node reaches every other
 * node's pods through that node's address, on the lab network they share. One line per route, sorted.
 */
export function renderPodRoutes(routes: PodRoute[]): string {
  const lines = routes.map((r) => `${r.subnet} ${r.gateway}`).sort();
  return ["# Managed by real-world-kubernetes (Pulumi); changes are overwritten.", ...lines, ""].join("\n");
}

/** The unit that puts the routes back at every boot (a route lives only as long as the network stack). */
export function renderPodRoutesUnit(): string {
  return renderUnitFile({
    Unit: [
      ["Description", "routes to the other nodes' pod subnets (real-world-kubernetes)"],
      // After containerd: where a system container's /proc/sys/net is made writable first (the lab's
      // image orders that before containerd), forwarding can be turned on.
      ["After", `network-online.target ${unit}`],
      ["Wants", "network-online.target"],
    ],
    Service: [
      ["Type", "oneshot"],
      ["RemainAfterExit", "yes"],
      ["ExecStart", `${paths.script} routes`],
    ],
    Install: [["WantedBy", "multi-user.target"]],
  });
}

/**
 * The helper as pushed: the facts it works with rendered from facts.ts in front of its body, so they are
 * written down once.
 */
export function renderHelperScript(body: string, library: string): string {
  const facts: Record<string, string> = {
    unit,
    namespace: criNamespace,
    socket: paths.socket,
    crictl: `${paths.commands}/crictl`,
    restart_pending: paths.restartPending,
    applied_config: paths.appliedConfig,
    routes_file: paths.podRoutes,
    route_proto: String(podRouteProtocol),
  };
  return withFacts(body, facts, "components/runtime/facts.ts", [library]);
}

export interface RuntimeFilesInput {
  /** The host's lab address: its pod subnet follows from it and the pod CIDR. */
  address: string;
  /** The stack's pod CIDR (config podCidr, a /16). */
  podCidr: string;
  /** The pod sandbox image's reference (pause). */
  sandboxImage: string;
  /** The body of the rwk-runtime helper (components/runtime/rwk-runtime.sh). */
  script: string;
  /** The functions it starts containerd with (components/host/rwk-unit.sh). */
  library: string;
  /** The routes to the other nodes' pod subnets. */
  routes: PodRoute[];
}

/** Every file a host's runtime needs, as one list. */
export function runtimeFiles(input: RuntimeFilesInput): HostFile[] {
  const root = "root:root";
  return [
    {
      path: paths.containerdConfig,
      mode: "0644",
      owner: root,
      content: renderContainerdConfig(input.sandboxImage),
      onChange: "restart",
    },
    // The CRI plugin watches its CNI config directory and loads a changed network by itself.
    {
      path: paths.cniConf,
      mode: "0644",
      owner: root,
      content: renderCniConfig(input.address, input.podCidr),
      onChange: "reload",
    },
    // `rwk-runtime routes` reads the routes whenever they change (and at boot), never containerd.
    {
      path: paths.podRoutes,
      mode: "0644",
      owner: root,
      content: renderPodRoutes(input.routes),
      onChange: "none",
    },
    {
      path: paths.podRoutesUnit,
      mode: "0644",
      owner: root,
      content: renderPodRoutesUnit(),
      onChange: "none",
    },
    // crictl reads its config on every call; containerd never reads the helper.
    { path: paths.crictlConfig, mode: "0644", owner: root, content: renderCrictlConfig(), onChange: "none" },
    {
      path: paths.script,
      mode: "0755",
      owner: root,
      content: renderHelperScript(input.script, input.library),
      onChange: "none",
    },
  ];
}

export interface Link {
  target: string;
  link: string;
}

/** What of each release is linked where containerd and people look: the CNI plugins' directory, the commands. */
export function releaseLinks(kubernetesVersion: string): Record<Release, Link[]> {
  const kubernetes = releaseDir("kubernetes", kubernetesVersion);
  return {
    "cni-plugins": [{ target: releaseDir("cni-plugins", toolVersions.cniPlugins), link: paths.cniBin }],
    crictl: [
      { target: `${releaseDir("crictl", toolVersions.crictl)}/crictl`, link: `${paths.commands}/crictl` },
    ],
    kubernetes: nodeBinaries.map((b) => ({ target: `${kubernetes}/${b}`, link: `${paths.commands}/${b}` })),
  };
}

/**
 * Points the links at the releases. `ln -T` replaces a link but refuses a real directory in its place
 * (a distribution's /opt/cni/bin): nothing of the host's own is overwritten.
 */
export function renderLinkCommand(links: Link[]): string {
  const dirs = [...new Set(links.map((l) => l.link.slice(0, l.link.lastIndexOf("/"))))];
  return [
    shellCommand("mkdir", "-p", ...dirs),
    ...links.map((l) => shellCommand("ln", "-sfT", l.target, l.link)),
  ].join(" && ");
}
