// The program under Pulumi mocks with Kubernetes roles: which runtime resources it registers for which
// host, with which names and inputs, and what it refuses before registering anything.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildStandIns, loadProgram, standInDigest } from "../../test/unit/program-harness";
import type { Registered } from "../../test/unit/program-harness";
import { imageRefs } from "./images";
import type { ImageName } from "./images";

const digest = standInDigest;
const allImages = Object.keys(imageRefs("1.34.4")) as ImageName[];

let cache: string;
const saved = process.env["RWK_CACHE"];
const buildCache = (images: ImageName[]) => buildStandIns(cache, images);
beforeEach(() => {
  cache = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-runtime-test-cache-"));
  process.env["RWK_CACHE"] = cache;
});
afterEach(() => {
  if (saved === undefined) delete process.env["RWK_CACHE"];
  else process.env["RWK_CACHE"] = saved;
  fs.rmSync(cache, { recursive: true, force: true });
});

/** Runs the program on these config keys; `registered` receives every registration, also of a run that throws. */
async function runProgram(
  config: Record<string, unknown>,
  registered: Registered[] = [],
): Promise<Registered[]> {
  return (await loadProgram(config, "dev", registered)).resources;
}

// The control plane on core-01 (with etcd there, the default), so that workers have an API server.
const cp = { controlPlane: ["core-01"] };
const runtimeOf = (rs: Registered[], host: string) =>
  rs.filter((r) => r.name.startsWith(`runtime-${host}`)).map((r) => `${r.type} ${r.name}`);

describe("the container runtime under mocks", () => {
  it("gives a worker containerd's files, the releases, their links, containerd, and its images", async () => {
    buildCache(allImages);
    const rs = await runProgram({ ...cp, workers: ["core-02"] });
    expect(runtimeOf(rs, "core-02").sort()).toEqual([
      "command:remote:Command runtime-core-02-cni-plugins-links",
      "command:remote:Command runtime-core-02-containerd",
      "command:remote:Command runtime-core-02-crictl-links",
      "command:remote:Command runtime-core-02-files",
      "command:remote:Command runtime-core-02-image-busybox-import",
      "command:remote:Command runtime-core-02-image-coredns-import",
      "command:remote:Command runtime-core-02-image-pause-import",
      "command:remote:Command runtime-core-02-kubernetes-links",
      "command:remote:Command runtime-core-02-routes",
      "command:remote:CopyToRemote runtime-core-02-cni-plugins",
      "command:remote:CopyToRemote runtime-core-02-crictl",
      "command:remote:CopyToRemote runtime-core-02-image-busybox",
      "command:remote:CopyToRemote runtime-core-02-image-coredns",
      "command:remote:CopyToRemote runtime-core-02-image-pause",
      "command:remote:CopyToRemote runtime-core-02-kubernetes",
      "rwk:runtime:NodeRuntime runtime-core-02",
    ]);
    expect(runtimeOf(rs, "core-03")).toEqual([]);
    const byName = new Map(rs.map((r) => [r.name, r.inputs]));
    const archive = path.join(cache, "oci-images", "pause-x.tar");
    expect(byName.get("runtime-core-02-image-pause-import")).toMatchObject({
      create:
        "/usr/local/sbin/rwk-runtime import --ref registry.k8s.io/pause:3.10.1 " +
        `--digest ${digest(0)} --archive /var/lib/rwk-runtime/images/pause-x.tar`,
      triggers: ["id-lab-core-02-machine", digest(0)],
    });
    expect(byName.get("runtime-core-02-image-pause")).toMatchObject({
      remotePath: "/var/lib/rwk-runtime/images",
      triggers: ["id-lab-core-02-machine", digest(0)],
    });
    expect(
      await (byName.get("runtime-core-02-image-pause")!["source"] as { path: Promise<string> }).path,
    ).toBe(archive);
    expect(byName.get("runtime-core-02-containerd")!["create"]).toMatch(
      /^\/usr\/local\/sbin\/rwk-runtime start --config [0-9a-f]{16}$/,
    );
    // Nothing on the host to undo over SSH: a host that is down cannot block a change of roles.
    for (const r of rs.filter((r) => r.name.startsWith("runtime-core-02-")))
      expect(r.inputs["delete"]).toBeUndefined();
  });

  it("gives a control-plane host the control plane's images too, once for a host in both roles", async () => {
    buildCache(allImages);
    const rs = await runProgram({ controlPlane: ["core-01"], workers: ["core-01", "core-02"] });
    const images = (host: string) =>
      runtimeOf(rs, host)
        .filter((r) => r.startsWith("command:remote:Command") && r.endsWith("-import"))
        .map((r) => r.replace(/.*-image-(.*)-import$/, "$1"))
        .sort();
    expect(images("core-01")).toEqual([...allImages].sort());
    expect(images("core-02")).toEqual(["busybox", "coredns", "pause"]);
    expect(rs.filter((r) => r.type === "rwk:runtime:NodeRuntime").map((r) => r.name)).toEqual([
      "runtime-core-01",
      "runtime-core-02",
    ]);
  });

  it("adds a worker: another's runtime changes only its routes, to the new worker's pod subnet", async () => {
    buildCache(allImages);
    const one = await runProgram({ ...cp, workers: ["core-02"] });
    const two = await runProgram({ ...cp, workers: ["core-02", "core-03"] });
    const changed = (a: Registered[], b: Registered[]) => {
      const before = new Map(a.map((r) => [r.name, JSON.stringify(r.inputs)]));
      return b
        .filter((r) => r.name.startsWith("runtime-core-02"))
        .filter((r) => before.get(r.name) !== JSON.stringify(r.inputs))
        .map((r) => r.name);
    };
    // The push carries the routes file; the routes command runs again for it. containerd is untouched.
    expect(changed(one, two)).toEqual(["runtime-core-02-files", "runtime-core-02-routes"]);
    const stdin = (rs: Registered[]) =>
      String(rs.find((r) => r.name === "runtime-core-02-files")!.inputs["stdin"]);
    const routes = (rs: Registered[]) =>
      Buffer.from(
        /pod-routes\.rwk-new <<'RWK_EOF'\n([^]*?)\nRWK_EOF/.exec(stdin(rs))![1]!,
        "base64",
      ).toString();
    expect(routes(one)).toContain("10.244.101.0/24 172.17.8.101\n");
    expect(routes(two)).toContain("10.244.101.0/24 172.17.8.101\n10.244.103.0/24 172.17.8.103\n");
    expect(runtimeOf(two, "core-03")).toHaveLength(runtimeOf(one, "core-02").length);
  });

  it("needs no Kubernetes build for a stack without roles", async () => {
    const rs = await runProgram({ etcdMembers: [], allowDataLoss: "dev" });
    expect(rs.filter((r) => r.name.startsWith("runtime-"))).toEqual([]);
  });

  it("refuses, before registering anything, a stack with roles whose builds or images are missing", async () => {
    const registered: Registered[] = [];
    await expect(runProgram({ ...cp, workers: ["core-02"] }, registered)).rejects.toThrow(
      "not built on this workstation: etcd@3.6.16, kubernetes@1.34.4, crictl@1.34.0, cni-plugins@1.10.0",
    );
    buildCache(["pause", "busybox"]);
    await expect(runProgram({ ...cp, workers: ["core-02"] }, registered)).rejects.toThrow(
      "images not built on this workstation: registry.k8s.io/coredns/coredns:v1.14.7 (not in",
    );
    // Nothing but the read of the stack's own last outputs, which every run makes first.
    expect(new Set(registered.map((r) => r.type))).toEqual(new Set(["pulumi:pulumi:StackReference"]));
  });
});
