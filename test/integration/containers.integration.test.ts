// Containers on a lab host, through the real engine: a worker gets containerd, the cluster's binaries and
// its images; a pod sandbox and a busybox container run there on the bridge pod network, which the host
// reaches; containerd comes back with its host; an update with nothing to do changes nothing and restarts
// nothing; destroy leaves nothing of the lab behind.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { kubernetesVersions } from "../../config";
import { hostImages, requireImages } from "../../components/runtime/images";
import type { ImageArchive, ImageName } from "../../components/runtime/images";
import { labLeftovers, run } from "../../workstation/lab";
import { sshArgs } from "../../workstation/ssh";
import { throwawayStack } from "../../workstation/stack";
import type { ThrowawayStack } from "../../workstation/stack";

const version = kubernetesVersions[0]!;
const worker = "core-02";
// What the program gives a worker, read where the program reads it.
const images: Map<ImageName, ImageArchive> = hostImages(
  requireImages(version, ["pause", "busybox", "coredns"]),
  ["worker"],
);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-containers-it-"));
const keyFile = path.join(work, "id");

let b: ThrowawayStack;
let stack: Stack;
let outputs: Record<string, unknown> = {};

/** When each resource's step started and ended during an update, by name (from the engine's events). */
function stepTimer(): {
  onEvent: (e: EngineEvent) => void;
  /** How long one resource's step took. */
  seconds: (name: string) => number;
  /** From the first start to the last end of the steps of the resources named with this prefix. */
  span: (prefix: string) => number;
} {
  const started = new Map<string, number>();
  const ended = new Map<string, number>();
  const nameOf = (urn: string) => urn.split("::").pop() ?? urn;
  const of = (prefix: string, times: Map<string, number>) =>
    [...times].filter(([name]) => name.startsWith(prefix)).map(([, t]) => t);
  return {
    onEvent: (e) => {
      const pre = e.resourcePreEvent?.metadata;
      if (pre) started.set(nameOf(pre.urn), Date.now());
      const out = e.resOutputsEvent?.metadata;
      if (out) ended.set(nameOf(out.urn), Date.now());
    },
    seconds: (name) => ((ended.get(name) ?? NaN) - (started.get(name) ?? NaN)) / 1000,
    span: (prefix) => (Math.max(...of(prefix, ended)) - Math.min(...of(prefix, started))) / 1000,
  };
}

async function up(onEvent?: (e: EngineEvent) => void): Promise<Record<string, number>> {
  const result = await stack.up({ color: "never", ...(onEvent ? { onEvent } : {}) });
  outputs = Object.fromEntries(
    Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value as unknown]),
  );
  return result.summary.resourceChanges ?? {};
}

async function sshOk(host: string, command: string, input?: string): Promise<string> {
  const r = await run([...sshArgs(outputs, keyFile, host), command], {
    timeoutMs: 60_000,
    ...(input === undefined ? {} : { input }),
  });
  if (r.code !== 0) throw new Error(`ssh ${host} ${command}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

beforeAll(async () => {
  b = await throwawayStack("containers-it");
  stack = b.stack;
  b.configure({ workers: [worker] });
});

afterAll(async () => {
  try {
    await b.dispose();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

describe("containers on a lab host through the real engine", () => {
  it("gives the worker containerd, the cluster's binaries and its images, and the other hosts nothing", async () => {
    const timer = stepTimer();
    const started = Date.now();
    await up(timer.onEvent);
    const upSeconds = (Date.now() - started) / 1000;
    fs.writeFileSync(keyFile, `${String(outputs["sshPrivateKey"])}\n`, { mode: 0o600 });

    expect(await sshOk(worker, "systemctl is-active containerd; systemctl is-enabled containerd")).toBe(
      "active\nenabled",
    );
    const listed = await sshOk(worker, "ctr -n k8s.io images ls");
    for (const image of images.values()) {
      const row = listed.split("\n").find((l) => l.startsWith(`${image.ref} `));
      expect(row?.split(/\s+/)[2]).toBe(image.digest);
    }
    // The archives only travelled to be imported.
    expect(await sshOk(worker, "ls -A /var/lib/rwk-runtime/images")).toBe("");
    expect(await sshOk(worker, "kubelet --version")).toBe(`Kubernetes v${version}`);
    expect(await sshOk(worker, `/opt/rwk/kubernetes-v${version}/kube-apiserver --version`)).toBe(
      `Kubernetes v${version}`,
    );
    expect(await sshOk(worker, "kubectl version --client")).toContain(`Client Version: v${version}`);
    expect(await sshOk(worker, "kube-proxy --version")).toBe(`Kubernetes v${version}`);
    expect(await sshOk(worker, "crictl --version")).toMatch(/^crictl version v\d/);
    for (const other of ["core-01", "core-03"])
      expect(await sshOk(other, "systemctl is-active containerd || true")).toBe("inactive");

    const rows = [...images].map(([name, image]) => {
      const mb = fs.statSync(image.archive).size / 1e6;
      const copy = timer.seconds(`runtime-${worker}-image-${name}`);
      const load = timer.seconds(`runtime-${worker}-image-${name}-import`);
      return `  ${name}: ${mb.toFixed(1)} MB, copy ${copy.toFixed(1)} s, import ${load.toFixed(1)} s`;
    });
    const releases = ["cni-plugins", "crictl", "kubernetes"].map(
      (r) => `  ${r} copy ${timer.seconds(`runtime-${worker}-${r}`).toFixed(1)} s`,
    );
    console.log(
      [
        `pulumi up of a fresh stack (three hosts, etcd on core-01, the runtime on ${worker}): ${upSeconds.toFixed(1)} s`,
        `  the runtime's resources, first start to last end: ${timer.span(`runtime-${worker}`).toFixed(1)} s`,
        `  containerd started and ready: ${timer.seconds(`runtime-${worker}-containerd`).toFixed(1)} s`,
        ...releases,
        ...rows,
      ].join("\n"),
    );
  });

  it("runs a pod sandbox and a busybox container on the bridge network, and removes them again", async () => {
    const pod = {
      metadata: { name: "proof", namespace: "rwk-it", uid: "rwk-it-proof", attempt: 0 },
      hostname: "proof",
      log_directory: "/var/log/rwk-it",
      // The systemd cgroup driver puts the pod under this slice.
      linux: { cgroup_parent: "rwk-it.slice" },
    };
    // A PID 1 with a handler for SIGTERM: busybox's sleep as PID 1 ignores it and stalls every stop.
    const script =
      "trap 'exit 0' TERM; mkdir -p /www; echo \"hello from $(hostname)\" >/www/index.html; " +
      "httpd -p 8080 -h /www; while :; do sleep 1 & wait; done";
    const container = {
      metadata: { name: "web" },
      image: { image: images.get("busybox")!.ref },
      command: ["sh", "-c", script],
      log_path: "web.log",
      linux: { resources: { memory_limit_in_bytes: 64 * 1024 * 1024 } },
    };
    await sshOk(worker, "mkdir -p /root/rwk-it && cat >/root/rwk-it/pod.json", JSON.stringify(pod));
    await sshOk(worker, "cat >/root/rwk-it/container.json", JSON.stringify(container));

    const sandbox = await sshOk(worker, "crictl runp /root/rwk-it/pod.json");
    const id = await sshOk(
      worker,
      `c=$(crictl create ${sandbox} /root/rwk-it/container.json /root/rwk-it/pod.json) && crictl start "$c" >/dev/null && echo "$c"`,
    );
    expect(
      await sshOk(
        worker,
        `for i in $(seq 50); do crictl exec ${id} cat /www/index.html && break; sleep 0.2; done`,
      ),
    ).toBe("hello from proof");
    expect(await sshOk(worker, `crictl exec ${id} cat /sys/fs/cgroup/memory/memory.limit_in_bytes`)).toBe(
      String(64 * 1024 * 1024),
    );
    expect(await sshOk(worker, `crictl inspect ${id} | jq -r .info.runtimeSpec.linux.cgroupsPath`)).toMatch(
      /^rwk-it\.slice:cri-containerd:/,
    );
    const ip = await sshOk(worker, `crictl inspectp ${sandbox} | jq -r .status.network.ip`);
    expect(ip).toMatch(/^10\.244\.102\.\d+$/);
    expect(await sshOk(worker, `ping -c1 -W2 ${ip} >/dev/null && echo ok`)).toBe("ok");
    expect(await sshOk(worker, `curl -s --max-time 5 http://${ip}:8080/`)).toBe("hello from proof");

    // The handler makes the stop graceful: well within crictl's 10 s timeout before a kill.
    const stop = await run([...sshArgs(outputs, keyFile, worker), `time -p crictl stop ${id}`], {
      timeoutMs: 30_000,
    });
    expect(stop.code).toBe(0);
    expect(Number(/real ([\d.]+)/.exec(stop.stderr)?.[1])).toBeLessThan(5);
    await sshOk(worker, `crictl rm ${id} && crictl stopp ${sandbox} && crictl rmp ${sandbox}`);
    expect(await sshOk(worker, "crictl pods -q; crictl ps -aq")).toBe("");
    expect(await sshOk(worker, "pgrep -c containerd-shim || true")).toBe("0");
    expect(await sshOk(worker, "findmnt -rn -o TARGET | grep -c '^/run/containerd/' || true")).toBe("0");
  });

  it("comes back with its host: containerd starts at boot with its images", async () => {
    b.configure({ workers: [worker], hostStates: { [worker]: "stopped" } });
    await up();
    b.configure({ workers: [worker] });
    await up();
    const ready =
      "for i in $(seq 100); do crictl info 2>/dev/null | jq -e '[.status.conditions[] | select(.status != true)] " +
      "| length == 0' >/dev/null && exit 0; sleep 0.2; done; exit 1";
    await sshOk(worker, ready);
    const listed = await sshOk(worker, "ctr -n k8s.io images ls -q");
    for (const image of images.values()) expect(listed.split("\n")).toContain(image.ref);
  });

  it("changes nothing on a second update, and does not restart containerd", async () => {
    const invocation = "systemctl show --property InvocationID --value containerd";
    const before = await sshOk(worker, invocation);
    const started = Date.now();
    const changes = await up();
    console.log(`pulumi up with nothing to do: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(Object.keys(changes)).toEqual(["same"]);
    expect(await sshOk(worker, invocation)).toBe(before);
  });

  it("pulumi destroy leaves no container, mount or process of the lab", async () => {
    await stack.destroy({ color: "never" });
    expect(await labLeftovers("machines", b.lab)).toEqual([]);
    // A container's processes belong to no lab by name: look for any left in the lab's cgroups. A zombie
    // holds nothing (its parent, killed with the host, leaves it to the machine's init to reap).
    const inLab = fs
      .readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const cgroups = fs.readFileSync(`/proc/${p}/cgroup`, "utf8");
          const state = /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"))?.[1];
          return cgroups.includes(`/${b.lab}/`) && state !== "Z";
        } catch {
          return false;
        }
      });
    expect(inLab).toEqual([]);
  });
});
