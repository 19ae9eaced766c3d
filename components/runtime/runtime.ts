import * as fs from "fs";
import * as path from "path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { builtDir } from "../built";
import { copyToHost, hostCommand, pushFiles } from "../host/commands";
import { hashFiles, restartHash } from "../host/files";
import type { Host } from "../host/host";
import { shellCommand, unitLibraryFile } from "../host/shell";
import { systemctlCommand } from "../host/systemd";
import { paths, podRoutesUnitName, toolVersions } from "./facts";
import type { Release } from "./facts";
import type { ImageArchive, ImageName } from "./images";
import { releaseLinks, renderLinkCommand, runtimeFiles } from "./render";
import type { PodRoute } from "./render";

export interface NodeRuntimeArgs {
  /** The host; a rebuilt host (new identity) gets everything again. */
  host: Host;
  /** The Kubernetes release: its binaries, built on the workstation, are copied to the host. */
  kubernetesVersion: string;
  /** The stack's pod CIDR (config podCidr): the host's pod subnet is a /24 of it. */
  podCidr: string;
  /** The images the host's roles need, built on the workstation (see hostImages); pause among them. */
  images: ReadonlyMap<ImageName, ImageArchive>;
  /** The routes to the other nodes' pod subnets (each through that node's address). */
  routes: PodRoute[];
}

/**
 * The container runtime of a host with a Kubernetes role: containerd with runc (from the host's image),
 * configured for the CRI with a bridge pod network; the CNI plugins, crictl and the Kubernetes release
 * copied from the workstation; and the images its roles run, imported into containerd.
 */
export class NodeRuntime extends pulumi.ComponentResource {
  /** Completes once containerd runs its current configuration and its CRI is ready. */
  public readonly ready: command.remote.Command;
  /** Completes once every image is in containerd at its digest. */
  public readonly images: command.remote.Command[];
  /** Completes once the Kubernetes release's commands (kubelet, kube-proxy, kubectl) are in place. */
  public readonly kubernetes: command.remote.Command;
  /** Completes once the routes to the other nodes' pod subnets are in place. */
  public readonly routes: command.remote.Command;

  constructor(name: string, args: NodeRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:runtime:NodeRuntime", name, {}, opts);
    const { host } = args;
    const pause = args.images.get("pause");
    if (!pause) throw new Error(`${name}: the images must include pause, every pod's sandbox`);
    const files = runtimeFiles({
      address: host.address,
      podCidr: args.podCidr,
      sandboxImage: pause.ref,
      script: fs.readFileSync(path.join(__dirname, "rwk-runtime.sh"), "utf8"),
      library: fs.readFileSync(unitLibraryFile, "utf8"),
      routes: args.routes,
    });

    const pushed = pushFiles(
      host,
      `${name}-files`,
      {
        files,
        restartMarker: paths.restartPending,
        // The image archives are copied into this directory: it must exist first, or the first copy
        // would be written as a file of its name.
        before: shellCommand("mkdir", "-p", paths.imageArchives),
      },
      { parent: this },
    );

    // Each release into a directory of its own: a new version lands beside the running one, and its links
    // switch to it. Each release is linked on its own, so that containerd need not wait for the largest.
    const versions: Record<Release, string> = {
      "cni-plugins": toolVersions.cniPlugins,
      crictl: toolVersions.crictl,
      kubernetes: args.kubernetesVersion,
    };
    const allLinks = releaseLinks(args.kubernetesVersion);
    const linked = Object.fromEntries(
      (Object.keys(versions) as Release[]).map((release) => {
        const copy = copyToHost(
          host,
          `${name}-${release}`,
          {
            from: builtDir(release, versions[release]),
            remoteDir: paths.binaries,
            triggers: [versions[release]],
          },
          { parent: this },
        );
        const link = renderLinkCommand(allLinks[release]);
        // A link must not point at a release that is not there yet.
        const links = hostCommand(
          host,
          `${name}-${release}-links`,
          { create: link, update: link },
          { parent: this, dependsOn: [copy] },
        );
        return [release, links];
      }),
    ) as Record<Release, command.remote.Command>;
    this.kubernetes = linked.kubernetes;

    // Run whenever the configuration changes; rwk-runtime restarts containerd only if a file it reads at
    // start changed since it started (the files' restart marker).
    const start = shellCommand(paths.script, "start", "--config", restartHash(files));
    this.ready = hostCommand(
      host,
      `${name}-containerd`,
      { create: start, update: start },
      // containerd starts with its configuration, and readiness includes the CNI network: the plugins'
      // directory must be linked, and the helper's crictl with it.
      { parent: this, dependsOn: [pushed, linked["cni-plugins"], linked.crictl] },
    );

    const routes = [
      systemctlCommand("daemon-reload"),
      systemctlCommand("enable", "--quiet", podRoutesUnitName),
      shellCommand(paths.script, "routes"),
    ].join(" && ");
    this.routes = hostCommand(
      host,
      `${name}-routes`,
      {
        create: routes,
        update: routes,
        // Run again whenever the routes or the helper that sets them change (both come with the push).
        triggers: [hashFiles(files.filter((f) => f.path === paths.podRoutes || f.path === paths.script))],
      },
      // The routes file, its unit and the helper come with the push; in a system container the network's
      // sysctls are writable once containerd's prerequisites ran (see renderPodRoutesUnit).
      { parent: this, dependsOn: [pushed, this.ready] },
    );

    this.images = [...args.images].map(([image, a]) => {
      const archive = `${paths.imageArchives}/${path.basename(a.archive)}`;
      const copy = copyToHost(
        host,
        `${name}-image-${image}`,
        { from: a.archive, remoteDir: paths.imageArchives, triggers: [a.digest] },
        // Into the directory the files' push made.
        { parent: this, dependsOn: [pushed] },
      );
      const load = shellCommand(
        paths.script,
        "import",
        "--ref",
        a.ref,
        "--digest",
        a.digest,
        "--archive",
        archive,
      );
      return hostCommand(
        host,
        `${name}-image-${image}-import`,
        // A new digest replaces the import and runs it; any other change (the archive's name) finds the
        // image at its digest and imports nothing.
        { create: load, update: load, triggers: [a.digest] },
        // Imported into a running containerd, from the archive on the host.
        { parent: this, dependsOn: [this.ready, copy] },
      );
    });

    this.registerOutputs({});
  }
}
