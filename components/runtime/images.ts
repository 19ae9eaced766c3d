// The cluster's images, built on the workstation by lab/images/oci/build-images.sh (no registry is
// reachable here): which a host needs for its roles, and where their archives and digests are. The program
// builds nothing: it reads the list the build wrote and refuses, before registering anything, a stack
// whose images are not built.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { cluster } from "../../versions.json";
import { cacheRoot } from "../built";

/** The images of the cluster, by the name a host's resources are named after. */
export type ImageName =
  "pause" | "busybox" | "coredns" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler";

/** A role a host has in config (controlPlane, workers). */
export type Role = "controlPlane" | "worker";

/** One built image: its reference as containerd names it, its archive on the workstation, its digest. */
export interface ImageArchive {
  ref: string;
  archive: string;
  /** The manifest digest: what `ctr images ls` shows for the ref once imported. */
  digest: string;
}

/**
 * The images' references, as upstream publishes them and as build-images.sh names them: the versions
 * from versions.json, the control plane's from the stack's Kubernetes release.
 */
export function imageRefs(kubernetesVersion: string): Record<ImageName, string> {
  const k8s = (component: string) => `registry.k8s.io/${component}:v${kubernetesVersion}`;
  return {
    pause: `registry.k8s.io/pause:${cluster.pause}`,
    busybox: `docker.io/library/busybox:${cluster.busybox}`,
    coredns: `registry.k8s.io/coredns/coredns:v${cluster.coredns}`,
    "kube-apiserver": k8s("kube-apiserver"),
    "kube-controller-manager": k8s("kube-controller-manager"),
    "kube-scheduler": k8s("kube-scheduler"),
  };
}

/** Each host with a Kubernetes role, with its roles: the control plane's hosts first, in config's order. */
export function hostRoles(kubernetes: { controlPlane: string[]; workers: string[] }): Map<string, Role[]> {
  const out = new Map<string, Role[]>(kubernetes.controlPlane.map((h) => [h, ["controlPlane"]]));
  for (const h of kubernetes.workers) out.set(h, [...(out.get(h) ?? []), "worker"]);
  return out;
}

/**
 * What a host runs from images: every node its pod sandboxes (pause), cluster DNS (which may land on any
 * node) and the workshop's workload (busybox); a control-plane host also its static pods.
 */
export function imagesForRoles(roles: Role[]): ImageName[] {
  const every: ImageName[] = ["pause", "busybox", "coredns"];
  const controlPlane: ImageName[] = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"];
  return roles.includes("controlPlane") ? [...every, ...controlPlane] : every;
}

/** The images of a host with these roles, out of the stack's (requireImages'). */
export function hostImages(
  all: ReadonlyMap<ImageName, ImageArchive>,
  roles: Role[],
): Map<ImageName, ImageArchive> {
  return new Map(
    imagesForRoles(roles).map((name) => {
      const image = all.get(name);
      if (!image) throw new Error(`image ${name} was not required for this stack`);
      return [name, image];
    }),
  );
}

/**
 * Where the image list of a Kubernetes release is: build-images.sh writes it beside the archives in the
 * cache, one `<ref> <archive> <manifest digest>` line per image of that release.
 */
export function imageListPath(kubernetesVersion: string): string {
  return path.join(cacheRoot(), "oci-images", `kubernetes-v${kubernetesVersion}.images`);
}

/** Parses build-images.sh's output; every line must be a ref, an absolute archive path and a digest. */
export function parseImageList(text: string, source: string): Map<string, ImageArchive> {
  const out = new Map<string, ImageArchive>();
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const [ref = "", archive = "", digest = "", ...rest] = line.trim().split(/\s+/);
    if (rest.length > 0 || !path.isAbsolute(archive) || !/^sha256:[0-9a-f]{64}$/.test(digest))
      throw new Error(
        `${source}:${i + 1}: want "<ref> <archive path> sha256:<digest>", got ${JSON.stringify(line)}`,
      );
    if (out.has(ref)) throw new Error(`${source}:${i + 1}: ${ref} is listed twice`);
    out.set(ref, { ref, archive, digest });
  });
  return out;
}

/**
 * The built images of these names, from the release's image list. Refused (a RunError naming every
 * missing image and how to build them) unless each is listed and its archive exists.
 */
export function requireImages(kubernetesVersion: string, names: ImageName[]): Map<ImageName, ImageArchive> {
  const file = imageListPath(kubernetesVersion);
  const build = `build them with: ./rwk up <stack> (or lab/images/oci/build-images.sh ${kubernetesVersion})`;
  if (!fs.existsSync(file))
    throw new pulumi.RunError(
      `the cluster's images for Kubernetes ${kubernetesVersion} are not built (no ${file}); ${build}`,
    );
  let listed: Map<string, ImageArchive>;
  try {
    listed = parseImageList(fs.readFileSync(file, "utf8"), file);
  } catch (e) {
    throw new pulumi.RunError(`${(e as Error).message}; ${build}`);
  }
  const refs = imageRefs(kubernetesVersion);
  const found = new Map<ImageName, ImageArchive>();
  const missing: string[] = [];
  for (const name of names) {
    const image = listed.get(refs[name]);
    if (image && fs.existsSync(image.archive)) found.set(name, image);
    else
      missing.push(
        image ? `${refs[name]} (its archive ${image.archive} is gone)` : `${refs[name]} (not in ${file})`,
      );
  }
  if (missing.length > 0)
    throw new pulumi.RunError(`images not built on this workstation: ${missing.join(", ")}; ${build}`);
  return found;
}
