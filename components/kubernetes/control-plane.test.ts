// The program under Pulumi mocks with a control plane: which Kubernetes resources it registers for which
// host, what they are pointed at, and how the workload waits (or does not) for its pods.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildStandIns, loadProgram } from "../../test/unit/program-harness";
import type { Registered } from "../../test/unit/program-harness";
import { onlyOnHost } from "../host/shell";
import { imageRefs } from "../runtime/images";
import type { ImageName } from "../runtime/images";

let cache: string;
const saved = process.env["RWK_CACHE"];
beforeAll(() => {
  cache = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-control-plane-test-cache-"));
  process.env["RWK_CACHE"] = cache;
  buildStandIns(cache, Object.keys(imageRefs("1.34.4")) as ImageName[]);
});
afterAll(() => {
  if (saved === undefined) delete process.env["RWK_CACHE"];
  else process.env["RWK_CACHE"] = saved;
  fs.rmSync(cache, { recursive: true, force: true });
});

const run = (config: Record<string, unknown>) => loadProgram(config, "dev");
const named = (rs: Registered[], type: string) => rs.filter((r) => r.type === type).map((r) => r.name);
const inputsOf = (rs: Registered[], name: string) => rs.find((r) => r.name === name)!.inputs;
/** A value as the mocks receive it, a secret's unwrapped. */
const address = (host: string) => `172.17.8.1${host.slice(-2)}`;
const plain = (v: unknown): string =>
  String(typeof v === "object" && v !== null && "value" in v ? v.value : v);

describe("the control plane under mocks", () => {
  it("gives each host with a role a kubelet, the control plane its static pods, and the stack one way in", async () => {
    const { resources: rs, outputs } = await run({
      etcdMembers: ["core-01", "core-02", "core-03"],
      controlPlane: ["core-01"],
      workers: ["core-02"],
    });
    expect(named(rs, "rwk:kubernetes:Kubelet")).toEqual(["kubelet-core-01", "kubelet-core-02"]);
    expect(named(rs, "rwk:kubernetes:ControlPlane")).toEqual(["control-plane-core-01"]);
    expect(named(rs, "rwk:kubernetes:ClusterAccess")).toEqual(["cluster"]);
    expect(named(rs, "pulumi-nodejs:dynamic/rwk:Forward")).toEqual(["cluster-forward"]);
    expect(inputsOf(rs, "cluster-forward")).toMatchObject({
      address: "172.17.8.101",
      remotePort: 6443,
      name: "apiserver",
    });
    // A certificate per node, CN=system:node:<host>; none for the host without a role.
    expect(named(rs, "rwk:pki:Certificate").filter((n) => n.includes("-kubelet-core"))).toEqual([
      "kubernetes-pki-kubelet-core-01",
      "kubernetes-pki-kubelet-core-02",
    ]);
    const csr = inputsOf(rs, "kubernetes-pki-kubelet-core-02-csr") as { subject: Record<string, string> };
    expect(csr.subject).toMatchObject({ commonName: "system:node:core-02", organization: "system:nodes" });
    // The API server waits for its pods with the inputs just pushed; every etcd member is in its flags.
    const wait = String(inputsOf(rs, "control-plane-core-01-ready")["create"]);
    expect(wait).toMatch(
      /^\/usr\/local\/sbin\/rwk-kube wait-control-plane --apiserver https:\/\/172\.17\.8\.101:6443 --pod kube-apiserver-core-01=[0-9a-f]{16} --pod kube-controller-manager-core-01=[0-9a-f]{16} --pod kube-scheduler-core-01=[0-9a-f]{16}$/,
    );
    const stdin = plain(inputsOf(rs, "control-plane-core-01-files")["stdin"]);
    const manifest =
      /base64 -d > \/etc\/kubernetes\/manifests\/\.kube-apiserver\.yaml\.rwk-new <<'RWK_EOF'\n([^]*?)\nRWK_EOF/.exec(
        stdin,
      )![1]!;
    expect(Buffer.from(manifest.replace(/\n/g, ""), "base64").toString()).toContain(
      "--etcd-servers=https://172.17.8.101:2379,https://172.17.8.102:2379,https://172.17.8.103:2379",
    );
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(["kubeconfig", "apiServer"]));
  });

  it("does not wait for the pause pods while no worker can run them, and waits once one can", async () => {
    const annotations = async (config: Record<string, unknown>) =>
      (
        inputsOf((await run(config)).resources, "pause") as {
          metadata: { annotations: Record<string, string> };
          spec: { replicas: number };
        }
      ).metadata.annotations;
    expect(await annotations({ controlPlane: ["core-01"], pauseReplicas: 3 })).toEqual({
      "pulumi.com/skipAwait": "true",
    });
    expect(await annotations({ controlPlane: ["core-01"], workers: ["core-02"] })).toEqual({});
  });

  it("gives every node kube-proxy and a Node, joined and drained as the admin from the first control-plane host", async () => {
    const { resources: rs } = await run({ controlPlane: ["core-01"], workers: ["core-02", "core-03"] });
    expect(named(rs, "rwk:kubernetes:KubeProxy")).toEqual([
      "kube-proxy-core-01",
      "kube-proxy-core-02",
      "kube-proxy-core-03",
    ]);
    expect(named(rs, "rwk:kubernetes:Node")).toEqual(["node-core-01", "node-core-02", "node-core-03"]);
    const joined = inputsOf(rs, "node-core-02-joined");
    expect(joined).toMatchObject({
      create:
        "/usr/local/sbin/rwk-kube node-join --node core-02 --pod-cidr 10.244.102.0/24 --kubelet 1.34.4 --role worker",
      // Run on core-01 (its identity first), again for a rebuilt core-02.
      triggers: ["id-lab-core-01-machine", "id-lab-core-02-machine"],
    });
    // Re-creating the join (another admin host, a rebuilt node host) must never drain: the drain is a
    // resource of its own that no trigger re-creates.
    expect(joined["delete"]).toBeUndefined();
    expect(inputsOf(rs, "node-core-02-drain")).toMatchObject({
      delete: "/usr/local/sbin/rwk-kube node-drain --node core-02",
      triggers: [],
    });
    expect(inputsOf(rs, "node-core-01-joined")["create"]).toContain("--role control-plane");
    // Drained before its kubelet moves to another release, on core-01 and not again for a rebuilt core-01.
    expect(inputsOf(rs, "upgrade-drain-core-02-drained")).toMatchObject({
      create: "/usr/local/sbin/rwk-kube node-upgrade-drain --node core-02 --kubelet 1.34.4",
      update: "/usr/local/sbin/rwk-kube node-upgrade-drain --node core-02 --kubelet 1.34.4",
      triggers: [],
    });
    // One kube-proxy identity for every node, bound to system:node-proxier by the API server's defaults.
    const csr = inputsOf(rs, "kubernetes-pki-kube-proxy-csr") as { subject: Record<string, string> };
    expect(csr.subject).toMatchObject({
      commonName: "system:kube-proxy",
      organization: "system:node-proxier",
    });
    // Stopped when it goes, but only on the host it started on (not on core-03 rebuilt since).
    expect(inputsOf(rs, "kube-proxy-core-03-start")["delete"]).toBe(
      onlyOnHost("id-lab-core-03-machine", "/usr/local/sbin/rwk-kube stop-proxy"),
    );
  });

  it("puts the control plane on three hosts behind keepalived's virtual IP, each with its own certificate", async () => {
    const { resources: rs } = await run({
      etcdMembers: ["core-01", "core-02", "core-03"],
      controlPlane: ["core-01", "core-02", "core-03"],
      workers: ["core-02", "core-03"],
      apiVirtualIp: "172.17.8.100",
      leaderElection: { leaseDuration: 4, renewDeadline: 3, retryPeriod: 1 },
    });
    expect(named(rs, "rwk:kubernetes:Keepalived")).toEqual([
      "keepalived-core-01",
      "keepalived-core-02",
      "keepalived-core-03",
    ]);
    expect(plain(inputsOf(rs, "keepalived-core-02-start")["create"])).toMatch(
      /^\/usr\/local\/sbin\/rwk-kube start-vip --endpoint https:\/\/172\.17\.8\.100:6443 --config [0-9a-f]{16}$/,
    );
    // A certificate per API server: its own host and the virtual IP, no other host.
    for (const host of ["core-01", "core-02", "core-03"]) {
      const csr = inputsOf(rs, `kubernetes-pki-apiserver-${host}-csr`) as {
        ipAddresses: string[];
        dnsNames: string[];
      };
      expect(csr.ipAddresses).toEqual(["10.3.0.1", "127.0.0.1", address(host), "172.17.8.100"]);
      expect(csr.dnsNames.filter((n) => n.startsWith("core-"))).toEqual([host]);
    }
    // The controller manager and scheduler run with the tuned Lease timings.
    const pushed = plain(inputsOf(rs, "control-plane-core-03-files")["stdin"]);
    const manifests = [...pushed.matchAll(/<<'RWK_EOF'\n([\s\S]*?)\nRWK_EOF/g)]
      .map((m) => Buffer.from(m[1]!, "base64").toString("utf8"))
      .join("\n");
    expect(manifests).toContain("--leader-elect-lease-duration=4s");
    expect(manifests).toContain("--leader-elect-renew-deadline=3s");
    expect(manifests).toContain("--leader-elect-retry-period=1s");
  });

  it("rolls a new release node by node in the version-skew order: control-plane hosts first, workers after every API server", async () => {
    const { resources: rs } = await run({
      etcdMembers: ["core-01", "core-02", "core-03"],
      controlPlane: ["core-01", "core-02"],
      workers: ["core-02", "core-03"],
      apiVirtualIp: "172.17.8.100",
    });
    const deps = (name: string) => rs.find((r) => r.name === name)!.dependencies ?? [];
    // A control-plane host: drained once the node before it is back (Ready at the release, schedulable),
    // then its manifests (after the control plane before it), then its kubelet, then its pods awaited.
    expect(deps("upgrade-drain-core-02-drained")).toEqual(
      expect.arrayContaining(["node-core-01-joined", "kubelet-core-01-files"]),
    );
    expect(deps("control-plane-core-02-files")).toEqual(
      expect.arrayContaining([
        "upgrade-drain-core-02-drained",
        "control-plane-core-01-ready",
        // etcd's members roll first.
        "etcd-core-01-restart",
        "etcd-core-03-restart",
      ]),
    );
    expect(deps("kubelet-core-02-start")).toEqual(
      expect.arrayContaining(["upgrade-drain-core-02-drained", "control-plane-core-02-files"]),
    );
    expect(deps("control-plane-core-02-ready")).toContain("kubelet-core-02-start");
    // Its kube-proxy and node talk to its own API server, the admin to core-01's: not to the later ones.
    expect(deps("node-core-02-joined")).toEqual(
      expect.arrayContaining([
        "kube-proxy-core-02-start",
        "control-plane-core-02-ready",
        "control-plane-core-01-ready",
      ]),
    );
    expect(deps("node-core-01-joined")).not.toContain("control-plane-core-02-ready");
    // A worker's kubelet may talk to any API server: drained only once every one (and the virtual IP)
    // is up, after the last control-plane host is back.
    expect(deps("upgrade-drain-core-03-drained")).toEqual(
      expect.arrayContaining([
        "node-core-02-joined",
        "control-plane-core-01-ready",
        "control-plane-core-02-ready",
        "keepalived-core-01-start",
        "keepalived-core-02-start",
      ]),
    );
    expect(deps("kubelet-core-03-start")).toContain("upgrade-drain-core-03-drained");
    expect(deps("node-core-03-joined")).toContain("kubelet-core-03-start");
  });

  it("runs cluster DNS at the tenth service address, and the web service behind a NodePort and a budget", async () => {
    const { resources: rs } = await run({
      controlPlane: ["core-01"],
      workers: ["core-02", "core-03"],
      webReplicas: 3,
      webMinAvailable: 2,
    });
    expect(inputsOf(rs, "cluster-dns-service")).toMatchObject({
      metadata: { name: "kube-dns", namespace: "kube-system" },
      spec: { clusterIP: "10.3.0.10" },
    });
    expect(inputsOf(rs, "web")).toMatchObject({ spec: { replicas: 3 } });
    expect(inputsOf(rs, "web-service")).toMatchObject({
      spec: { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] },
    });
    expect(inputsOf(rs, "web-budget")).toMatchObject({ spec: { minAvailable: 2 } });
  });

  it("writes tuned tolerations of a lost node into the workloads' pods, and none for Kubernetes' default", async () => {
    const tolerations = async (config: Record<string, unknown>) =>
      (
        inputsOf(
          (await run({ controlPlane: ["core-01"], workers: ["core-02"], ...config })).resources,
          "web",
        ) as {
          spec: { template: { spec: { tolerations: unknown[] } } };
        }
      ).spec.template.spec.tolerations;
    expect(await tolerations({})).toEqual([]);
    expect(await tolerations({ workloadTolerationSeconds: 30 })).toEqual([
      { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 30 },
      {
        key: "node.kubernetes.io/unreachable",
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 30,
      },
    ]);
  });

  it("registers nothing of Kubernetes for a stack without roles", async () => {
    const { resources: rs, outputs } = await run({});
    expect(
      rs.filter((r) => r.type.startsWith("rwk:kubernetes:") || r.type.startsWith("kubernetes:")),
    ).toEqual([]);
    expect(outputs["kubeconfig"]).toBeUndefined();
  });
});
