import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  hostImages,
  hostRoles,
  imageListPath,
  imageRefs,
  imagesForRoles,
  parseImageList,
  requireImages,
} from "./images";
import type { ImageName } from "./images";

const digest = (c: string) => `sha256:${c.repeat(64)}`;

describe("the cluster's images", () => {
  it("names every image as upstream publishes it, at the pinned versions", () => {
    expect(imageRefs("1.34.4")).toEqual({
      pause: "registry.k8s.io/pause:3.10.1",
      busybox: "docker.io/library/busybox:1.35.0",
      coredns: "registry.k8s.io/coredns/coredns:v1.14.7",
      "kube-apiserver": "registry.k8s.io/kube-apiserver:v1.34.4",
      "kube-controller-manager": "registry.k8s.io/kube-controller-manager:v1.34.4",
      "kube-scheduler": "registry.k8s.io/kube-scheduler:v1.34.4",
    });
  });

  it("gives every host with a role its sandbox, DNS and workload images, the control plane its own too", () => {
    expect(imagesForRoles(["worker"])).toEqual(["pause", "busybox", "coredns"]);
    expect(imagesForRoles(["controlPlane"])).toEqual([
      "pause",
      "busybox",
      "coredns",
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
    ]);
    expect(imagesForRoles(["controlPlane", "worker"])).toEqual(imagesForRoles(["controlPlane"]));
  });

  it("lists each host with a role once, with all its roles, the control plane first", () => {
    const roles = hostRoles({ controlPlane: ["core-01"], workers: ["core-03", "core-01"] });
    expect([...roles]).toEqual([
      ["core-01", ["controlPlane", "worker"]],
      ["core-03", ["worker"]],
    ]);
    expect(hostRoles({ controlPlane: [], workers: [] }).size).toBe(0);
  });

  it("reads build-images.sh's lines and refuses anything else, naming the line", () => {
    const list = parseImageList(
      `registry.k8s.io/pause:3.10.1 /c/pause.tar ${digest("a")}\n\nx:1 /c/x.tar ${digest("b")}\n`,
      "list",
    );
    expect([...list.values()]).toEqual([
      { ref: "registry.k8s.io/pause:3.10.1", archive: "/c/pause.tar", digest: digest("a") },
      { ref: "x:1", archive: "/c/x.tar", digest: digest("b") },
    ]);
    expect(() => parseImageList(`x:1 c/x.tar ${digest("a")}`, "list")).toThrow(
      `list:1: want "<ref> <archive path> sha256:<digest>", got "x:1 c/x.tar ${digest("a")}"`,
    );
    expect(() => parseImageList("x:1 /c/x.tar sha256:abc", "list")).toThrow("list:1: want");
    expect(() => parseImageList(`x:1 /c/x.tar ${digest("a")} extra`, "list")).toThrow("list:1: want");
    expect(() => parseImageList(`x:1 /a ${digest("a")}\nx:1 /b ${digest("b")}`, "list")).toThrow(
      "list:2: x:1 is listed twice",
    );
  });

  describe("requireImages", () => {
    let cache: string;
    const saved = process.env["RWK_CACHE"];
    beforeEach(() => {
      cache = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-images-test-"));
      process.env["RWK_CACHE"] = cache;
    });
    afterEach(() => {
      if (saved === undefined) delete process.env["RWK_CACHE"];
      else process.env["RWK_CACHE"] = saved;
      fs.rmSync(cache, { recursive: true, force: true });
    });

    /** An image list with archives for these images (the last one's archive missing if `gone`). */
    function writeList(names: ImageName[], gone?: ImageName): void {
      const dir = path.join(cache, "oci-images");
      fs.mkdirSync(dir, { recursive: true });
      const refs = imageRefs("1.34.4");
      const lines = names.map((n, i) => {
        const archive = path.join(dir, `${n}.tar`);
        if (n !== gone) fs.writeFileSync(archive, n);
        return `${refs[n]} ${archive} ${digest(String(i))}`;
      });
      fs.writeFileSync(imageListPath("1.34.4"), `${lines.join("\n")}\n`);
    }

    it("keeps the list beside the archives in the cache", () => {
      expect(imageListPath("1.34.4")).toBe(path.join(cache, "oci-images", "kubernetes-v1.34.4.images"));
    });

    it("returns the listed images whose archives exist", () => {
      writeList(["pause", "busybox", "coredns", "kube-apiserver"]);
      const images = requireImages("1.34.4", ["pause", "coredns"]);
      expect([...images.keys()]).toEqual(["pause", "coredns"]);
      expect(images.get("coredns")).toEqual({
        ref: "registry.k8s.io/coredns/coredns:v1.14.7",
        archive: path.join(cache, "oci-images", "coredns.tar"),
        digest: digest("2"),
      });
    });

    it("gives each host the stack's images its roles need", () => {
      writeList(["pause", "busybox", "coredns"]);
      const images = requireImages("1.34.4", imagesForRoles(["worker"]));
      expect([...hostImages(images, ["worker"]).keys()]).toEqual(["pause", "busybox", "coredns"]);
      expect(() => hostImages(images, ["controlPlane"])).toThrow(
        "image kube-apiserver was not required for this stack",
      );
    });

    it("refuses a release whose images were never built, saying how to build them", () => {
      expect(() => requireImages("1.34.4", ["pause"])).toThrow(
        `the cluster's images for Kubernetes 1.34.4 are not built (no ${imageListPath("1.34.4")}); ` +
          "build them with: ./rwk up <stack> (or lab/images/oci/build-images.sh 1.34.4)",
      );
    });

    it("names every image that is not listed or whose archive is gone, at once", () => {
      writeList(["pause", "busybox"], "busybox");
      const archive = path.join(cache, "oci-images", "busybox.tar");
      expect(() => requireImages("1.34.4", ["pause", "busybox", "kube-scheduler"])).toThrow(
        `images not built on this workstation: docker.io/library/busybox:1.35.0 (its archive ${archive} is gone), ` +
          `registry.k8s.io/kube-scheduler:v1.34.4 (not in ${imageListPath("1.34.4")}); build them with:`,
      );
    });
  });
});
