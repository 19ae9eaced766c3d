// The cluster on lab hosts, through the real engine. First the control plane (the workshop's "Running
// Kubernetes API Server" and "Test API"): core-01 gets containerd, the cluster's binaries and images, a
// kubelet and the API server, controller manager and scheduler as its static pods, against etcd over
// mutual TLS; kubectl reaches it with the stack's kubeconfig; the pause Deployment is a resource of the
// stack whose pods stay Pending with no worker. Certificates are checked with openssl and curl; a pod
// runs on the bridge pod network. Then the workshop's "Kubernetes Workers": core-02 and core-03 join, the
// pods run on both, reach each other across hosts, reach a Service's ClusterIP and resolve its name
// through cluster DNS. Everything comes back with its host; an update with nothing to do changes and
// restarts nothing; a worker removed is drained first; destroy leaves nothing of the lab behind.
import * as fs from "fs";
import * as path from "path";
import { kubernetesVersions } from "../../config";
import { hostImages, imagesForRoles, requireImages } from "../../components/runtime/images";
import type { ImageArchive, ImageName } from "../../components/runtime/images";
import { labAccess, labLeftovers, projectRoot, run } from "../../workstation/lab";
import { changed } from "../../workstation/stack";
import { ClusterSession, stepTimer, until } from "./cluster";

const version = kubernetesVersions[0]!;
const cp = "core-01";
const workers = ["core-02", "core-03"];
// What the program gives a control-plane host, read where the program reads it.
const images: Map<ImageName, ImageArchive> = hostImages(
  requireImages(version, imagesForRoles(["controlPlane"])),
  ["controlPlane"],
);
/** The stack's config before the workers join, and after. */
const controlPlaneOnly = { controlPlane: [cp], pauseReplicas: 2 };
const withWorkers = { ...controlPlaneOnly, workers, pauseReplicas: 4 };
const s = new ClusterSession("control-plane-it", version);

beforeAll(async () => {
  await s.open(controlPlaneOnly);
});

afterAll(async () => {
  await s.dispose();
});

describe("the control plane on a lab host through the real engine", () => {
  it("gives core-01 containerd, the cluster's binaries and images, a kubelet and a ready control plane", async () => {
    const timer = stepTimer();
    const started = Date.now();
    await s.up(timer.onEvent);
    const upSeconds = (Date.now() - started) / 1000;

    expect(
      await s.sshOk(cp, "systemctl is-active containerd kubelet; systemctl is-enabled containerd kubelet"),
    ).toBe("active\nactive\nenabled\nenabled");
    const listed = await s.sshOk(cp, "ctr -n k8s.io images ls");
    for (const image of images.values()) {
      const row = listed.split("\n").find((l) => l.startsWith(`${image.ref} `));
      expect(row?.split(/\s+/)[2]).toBe(image.digest);
    }
    // The archives only travelled to be imported.
    expect(await s.sshOk(cp, "ls -A /var/lib/rwk-runtime/images")).toBe("");
    expect(await s.sshOk(cp, "kubelet --version")).toBe(`Kubernetes v${version}`);
    expect(await s.sshOk(cp, "kubectl version --client")).toContain(`Client Version: v${version}`);
    expect(await s.sshOk(cp, "kube-proxy --version")).toBe(`Kubernetes v${version}`);
    expect(await s.sshOk(cp, "crictl --version")).toMatch(/^crictl version v\d/);
    for (const other of ["core-02", "core-03"])
      expect(await s.sshOk(other, "systemctl is-active containerd kubelet || true")).toBe(
        "inactive\ninactive",
      );

    // The workshop's "Test API", with kubectl and the stack's kubeconfig.
    expect(await s.kubectl("get", "--raw", "/readyz")).toBe("ok");
    expect(await s.kubectl("version", "-o", "json")).toContain(`"gitVersion": "v${version}"`);
    const node = JSON.parse(await s.kubectl("get", "node", cp, "-o", "json")) as {
      spec: { taints?: { key: string; effect: string }[] };
      status: { conditions: { type: string; status: string }[] };
    };
    expect(node.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(node.spec.taints).toEqual([
      { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" },
    ]);
    const system = await s.kubectl(
      "get",
      "pods",
      "-n",
      "kube-system",
      "-o",
      'jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{"\\n"}{end}',
    );
    // The static pods, and cluster DNS, which tolerates the control plane's taint (as kubeadm's does).
    expect(
      system
        .split("\n")
        .map((l) => l.replace(/^coredns-[a-z0-9]+-[a-z0-9]+ /, "coredns "))
        .sort(),
    ).toEqual([
      `coredns ${cp} Running`,
      `coredns ${cp} Running`,
      ...["kube-apiserver", "kube-controller-manager", "kube-scheduler"].map(
        (c) => `${c}-${cp} ${cp} Running`,
      ),
    ]);
    // The workshop's "really boring application in this cluster with no nodes": there, Pending.
    expect(await s.kubectl("get", "deployment", "pause", "-o", "jsonpath={.spec.replicas}")).toBe("2");
    await until(
      "two pause pods, Pending with nowhere to run",
      30,
      async () =>
        (await s.kubectl("get", "pods", "-l", "app=pause", "-o", "jsonpath={.items[*].status.phase}")) ===
        "Pending Pending",
    );
    console.log(await s.kubectl("get", "pods"));

    console.log(
      [
        `pulumi up of a fresh stack (three hosts, etcd and the control plane on ${cp}): ${upSeconds.toFixed(1)} s`,
        `  the runtime's resources, first start to last end: ${timer.span(`runtime-${cp}`).toFixed(1)} s`,
        `  kubelet started: ${timer.seconds(`kubelet-${cp}-start`).toFixed(1)} s`,
        `  static pods to a ready API server: ${timer.seconds(`control-plane-${cp}-ready`).toFixed(1)} s`,
        `  pause Deployment: ${timer.seconds("pause").toFixed(1)} s`,
      ].join("\n"),
    );
  });

  it("serves a certificate naming the API server's names, and wants a Kubernetes client certificate", async () => {
    const port = new URL(String(s.outputs["apiServer"])).port;
    const served = await run(
      [
        "sh",
        "-c",
        `openssl s_client -connect 127.0.0.1:${port} </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName`,
      ],
      { timeoutMs: 20_000 },
    );
    for (const san of [
      "DNS:kubernetes",
      "DNS:kubernetes.default",
      "DNS:kubernetes.default.svc",
      "DNS:kubernetes.default.svc.cluster.local",
      `DNS:${cp}`,
      "IP Address:10.3.0.1",
      "IP Address:172.17.8.101",
      "IP Address:127.0.0.1",
    ])
      expect(served.stdout).toContain(san);
    const chain = await run(
      [
        "sh",
        "-c",
        `openssl s_client -connect 127.0.0.1:${port} -CAfile ${s.caFile} -verify_return_error </dev/null 2>&1`,
      ],
      { timeoutMs: 20_000 },
    );
    expect(chain.stdout).toContain("Verify return code: 0 (ok)");

    const pemFile = (name: string, content: unknown) => {
      const file = path.join(s.work, name);
      fs.writeFileSync(file, String(content), { mode: 0o600 });
      return file;
    };
    const etcdClient = {
      cert: pemFile("etcd-operator.crt", s.outputs["etcdOperatorCert"]),
      key: pemFile("etcd-operator.key", s.outputs["etcdOperatorKey"]),
    };
    const admin = JSON.parse(await s.kubectl("config", "view", "--raw", "-o", "json")) as {
      users: { user: Record<string, string> }[];
    };
    const adminClient = {
      cert: pemFile("admin.crt", Buffer.from(admin.users[0]!.user["client-certificate-data"]!, "base64")),
      key: pemFile("admin.key", Buffer.from(admin.users[0]!.user["client-key-data"]!, "base64")),
    };
    // Health checks answer anyone; nothing else does.
    expect(await s.httpCode("/readyz")).toBe("200");
    expect(await s.httpCode("/livez")).toBe("200");
    expect(await s.httpCode("/api")).toBe("401");
    expect(await s.httpCode("/version")).toBe("401");
    // A certificate the etcd CA signed is no Kubernetes identity.
    expect(await s.httpCode("/api", etcdClient)).toBe("401");
    expect(await s.httpCode("/api", adminClient)).toBe("200");
    // The kubelet's API wants a client too.
    expect(await s.sshOk(cp, "curl -sk -o /dev/null -w '%{http_code}' https://172.17.8.101:10250/pods")).toBe(
      "401",
    );
  });

  it("runs a pod through the API on the bridge network: exec, logs, limits, a graceful delete", async () => {
    // A PID 1 with a handler for SIGTERM: busybox's sleep as PID 1 ignores it and stalls every stop.
    const script =
      "trap 'exit 0' TERM; mkdir -p /www; echo \"hello from $(hostname)\" >/www/index.html; " +
      "httpd -p 8080 -h /www; echo serving; while :; do sleep 1 & wait; done";
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "proof", namespace: "default" },
      spec: {
        // core-01 is a control-plane host only: tainted, so the pod says it may go there anyway.
        tolerations: [
          { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
        ],
        containers: [
          {
            name: "web",
            image: images.get("busybox")!.ref,
            imagePullPolicy: "Never",
            command: ["sh", "-c", script],
            resources: { limits: { memory: "64Mi", cpu: "100m" } },
          },
        ],
        terminationGracePeriodSeconds: 10,
      },
    };
    const applied = await s.kubectlWithInput(JSON.stringify(pod), "apply", "-f", "-");
    expect(applied.code).toBe(0);
    await s.kubectl("wait", "--for=condition=Ready", "pod/proof", "--timeout=60s");
    // exec and logs go through the API server to the kubelet, which checks the API server's client
    // certificate, and whose serving certificate the API server checks against the cluster CA.
    expect(await s.kubectl("exec", "proof", "--", "cat", "/www/index.html")).toBe("hello from proof");
    expect(await s.kubectl("logs", "proof")).toBe("serving");
    expect(await s.kubectl("exec", "proof", "--", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")).toBe(
      String(64 * 1024 * 1024),
    );
    const ip = await s.kubectl("get", "pod", "proof", "-o", "jsonpath={.status.podIP}");
    expect(ip).toMatch(/^10\.244\.101\.\d+$/);
    expect(await s.sshOk(cp, `ping -c1 -W2 ${ip} >/dev/null && echo ok`)).toBe("ok");
    expect(await s.sshOk(cp, `curl -s --max-time 5 http://${ip}:8080/`)).toBe("hello from proof");
    // The handler makes the delete graceful: well within its grace period.
    const started = Date.now();
    await s.kubectl("delete", "pod", "proof", "--wait=true", "--timeout=60s");
    expect((Date.now() - started) / 1000).toBeLessThan(8);
    expect(
      await s.sshOk(cp, "crictl pods -q --state ready --name '^proof$'; crictl ps -q --name '^web$'"),
    ).toBe("");
  });

  it("gives core-02 and core-03 as workers: Ready nodes, pods on both, reaching each other, a Service and DNS", async () => {
    s.b.configure(withWorkers);
    const started = Date.now();
    await s.up();
    console.log(`pulumi up adding two workers: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const w of workers)
      expect(await s.sshOk(w, "systemctl is-active containerd kubelet kube-proxy")).toBe(
        "active\nactive\nactive",
      );
    const nodes = JSON.parse(await s.kubectl("get", "nodes", "-o", "json")) as {
      items: {
        metadata: { name: string; labels: Record<string, string> };
        spec: { podCIDR?: string; taints?: unknown[] };
        status: { conditions: { type: string; status: string }[] };
      }[];
    };
    expect(
      nodes.items.map((n) => [
        n.metadata.name,
        n.status.conditions.find((c) => c.type === "Ready")?.status,
        n.spec.podCIDR,
        Object.keys(n.metadata.labels).filter((l) => l.startsWith("node-role.kubernetes.io/")),
      ]),
    ).toEqual([
      [cp, "True", "10.244.101.0/24", ["node-role.kubernetes.io/control-plane"]],
      ["core-02", "True", "10.244.102.0/24", ["node-role.kubernetes.io/worker"]],
      ["core-03", "True", "10.244.103.0/24", ["node-role.kubernetes.io/worker"]],
    ]);
    // The workloads' pods run, and only on the workers; the web service has a pod on each.
    const pods = JSON.parse(await s.kubectl("get", "pods", "-l", "app in (web,pause)", "-o", "json")) as {
      items: {
        metadata: { name: string; labels: Record<string, string> };
        spec: { nodeName: string };
        status: { phase: string; podIP: string };
      }[];
    };
    expect(pods.items.map((p) => p.status.phase)).toEqual(Array(6).fill("Running"));
    // On the workers only. Where: the pods Pending before any worker existed took the first node Ready.
    for (const p of pods.items) expect(workers).toContain(p.spec.nodeName);
    const web = pods.items.filter((p) => p.metadata.labels["app"] === "web");
    console.log(await s.kubectl("get", "pods", "-A", "-o", "wide"));

    // A pod on each worker: the client on core-02 reaches the server on core-03 (across hosts), the
    // Service's ClusterIP, and the Service by its DNS name through cluster DNS.
    const pod = (name: string, node: string, script: string) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default" },
      spec: {
        nodeName: node,
        containers: [
          {
            name,
            image: images.get("busybox")!.ref,
            imagePullPolicy: "Never",
            command: ["sh", "-c", `trap 'exit 0' TERM; ${script}while :; do sleep 1 & wait; done`],
          },
        ],
        terminationGracePeriodSeconds: 5,
      },
    });
    const applied = await s.kubectlWithInput(
      JSON.stringify({
        apiVersion: "v1",
        kind: "List",
        items: [
          pod("client", "core-02", ""),
          pod(
            "server",
            "core-03",
            "mkdir -p /www && echo server >/www/index.html && httpd -p 8080 -h /www; ",
          ),
        ],
      }),
      "apply",
      "-f",
      "-",
    );
    expect(applied.code).toBe(0);
    await s.kubectl("wait", "--for=condition=Ready", "pod/client", "pod/server", "--timeout=60s");
    // busybox's nc: one HTTP/1.0 request, the answer's last line is the pod's name.
    const get = (target: string) =>
      s.kubectl(
        "exec",
        "client",
        "--",
        "sh",
        "-c",
        `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${target} | tail -n 1`,
      );
    const serverIp = await s.kubectl("get", "pod", "server", "-o", "jsonpath={.status.podIP}");
    expect(serverIp).toMatch(/^10\.244\.103\.\d+$/);
    expect(await get(`${serverIp} 8080`)).toBe("server");
    const clusterIp = await s.kubectl("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}");
    expect(clusterIp).toMatch(/^10\.3\.0\.\d+$/);
    const answers = new Set<string>();
    for (let i = 0; i < 20 && answers.size < 2; i++) answers.add(await get(`${clusterIp} 80`));
    expect([...answers].sort()).toEqual(web.map((p) => p.metadata.name).sort());
    const lookup = await s.kubectl("exec", "client", "--", "nslookup", "web.default.svc.cluster.local");
    expect(lookup).toContain("Server:\t\t10.3.0.10");
    expect(lookup).toContain(`Address: ${clusterIp}`);
    expect(await get(`web.default.svc.cluster.local 80`)).toMatch(/^web-/);
    // From the lab network through any node's NodePort, the control-plane host's too (it routes to the pods).
    for (const address of ["172.17.8.101", "172.17.8.102", "172.17.8.103"]) {
      const r = await run(
        [...labAccess("machines", s.b.lab), "curl", "-s", "--max-time", "5", `http://${address}:30080/`],
        { timeoutMs: 20_000 },
      );
      expect(r.stdout.trim()).toMatch(/^web-/);
    }
    await s.kubectl("delete", "pod", "client", "server", "--wait=true", "--timeout=60s");
  });

  it("comes back with its host: containerd, the kubelet and the control plane start at boot", async () => {
    s.b.configure({ ...withWorkers, hostStates: { [cp]: "stopped" } });
    await s.up();
    s.b.configure(withWorkers);
    await s.up();
    await until(
      "the API server's /readyz after the host came back",
      120,
      async () => (await s.kubectl("get", "--raw", "/readyz")) === "ok",
    );
    const ready =
      "for i in $(seq 100); do crictl info 2>/dev/null | jq -e '[.status.conditions[] | select(.status != true)] " +
      "| length == 0' >/dev/null && exit 0; sleep 0.2; done; exit 1";
    await s.sshOk(cp, ready);
    const listed = await s.sshOk(cp, "ctr -n k8s.io images ls -q");
    for (const image of images.values()) expect(listed.split("\n")).toContain(image.ref);
  });

  it("changes nothing on a second update, and restarts neither containerd, the kubelet nor a static pod", async () => {
    // The static pods' sandboxes: the kubelet makes a new one only for a new manifest.
    const invocation =
      "systemctl show --property InvocationID --value containerd kubelet; crictl pods -q --label tier=control-plane | sort";
    const before = await s.sshOk(cp, invocation);
    const started = Date.now();
    const changes = await s.up();
    console.log(`pulumi up with nothing to do: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(changed(changes)).toEqual({});
    expect(await s.sshOk(cp, invocation)).toBe(before);
  });

  it("passes the safety rules at rest, refuses at preview a control-plane host joining while stopped, warns when advisory", async () => {
    // What ./rwk adds to a preview (policy/README.md): the pack and its levels.
    const safety = {
      color: "never" as const,
      policyPacks: [path.join(projectRoot, "policy")],
      policyPackConfigs: [path.join(projectRoot, "policy-config.json")],
    };
    // The Kubernetes rules read the real outputs: kubelet and API server versions, --etcd-servers.
    const atRest = await s.stack.preview(safety);
    expect(atRest.stdout).toMatch(/Policies:/);
    expect(atRest.stdout).not.toMatch(/\[mandatory\]/);
    s.b.configure({
      ...withWorkers,
      controlPlane: [cp, "core-02"],
      apiVirtualIp: "172.17.8.100",
      hostStates: { "core-02": "stopped" },
    });
    try {
      const refused = await s.stack.preview(safety).then(
        () => "the preview passed",
        (e: unknown) => String(e),
      );
      expect(refused).toMatch(/\[mandatory\]\s+control-plane-change-with-host-down/);
      expect(refused).toMatch(/a control-plane change \(core-02 joining\) while core-02 is stopped/);
      // Turned down to advisory in a policy config, the same preview passes and warns.
      const levels = JSON.parse(fs.readFileSync(safety.policyPackConfigs[0]!, "utf8")) as object;
      const advisoryConfig = path.join(s.work, "policy-config-advisory.json");
      const rule = "control-plane-change-with-host-down";
      fs.writeFileSync(advisoryConfig, JSON.stringify({ ...levels, [rule]: "advisory" }));
      const warned = await s.stack.preview({ ...safety, policyPackConfigs: [advisoryConfig] });
      expect(warned.stdout).toMatch(/\[advisory\]\s+control-plane-change-with-host-down/);
    } finally {
      s.b.configure(withWorkers);
    }
  });

  it("drains a worker that leaves, then stops it: its pods run on the other, its node is gone", async () => {
    s.b.configure({ ...withWorkers, workers: ["core-02"] });
    await s.up();
    expect(await s.kubectl("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}")).toBe(`${cp} core-02`);
    expect(await s.sshOk("core-03", "systemctl is-active kubelet kube-proxy || true")).toBe(
      "inactive\ninactive",
    );
    // The drain ends once the evicted pods are gone; their replacements are the ReplicaSet controller's, in
    // its own time (once, in CI, two were not even created yet when the update ended).
    const allOnCore02 = Array(6).fill("core-02 Running") as string[];
    let placed = "";
    await until("the six pods running on core-02", 120, async () => {
      placed = await s.kubectl(
        "get",
        "pods",
        "-l",
        "app in (web,pause)",
        "-o",
        'jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{"\\n"}{end}',
      );
      return placed.split("\n").join() === allOnCore02.join();
    }).catch(() => undefined);
    expect(placed.split("\n")).toEqual(allOnCore02);
    // core-02 no longer routes to core-03's pods.
    expect(await s.sshOk("core-02", "ip route show proto 99")).toBe(
      "10.244.101.0/24 via 172.17.8.101 dev eth0",
    );
  });

  it("untaints the control-plane host that becomes a worker too, and labels both its roles", async () => {
    s.b.configure({ ...withWorkers, workers: ["core-02", cp] });
    await s.up();
    const node = JSON.parse(await s.kubectl("get", "node", cp, "-o", "json")) as {
      metadata: { labels: Record<string, string> };
      spec: { taints?: unknown[] };
    };
    expect(node.spec.taints ?? []).toEqual([]);
    expect(Object.keys(node.metadata.labels).filter((l) => l.startsWith("node-role.kubernetes.io/"))).toEqual(
      ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/worker"],
    );
  });

  it("pulumi destroy leaves no container, mount, process or forward of the lab", async () => {
    const port = new URL(String(s.outputs["apiServer"])).port;
    await s.stack.destroy({ color: "never" });
    expect(await labLeftovers("machines", s.b.lab)).toEqual([]);
    const listening = await run(["ss", "-Hltn", `sport = :${port}`]);
    expect(listening.stdout.trim()).toBe("");
    // A container's processes belong to no lab by name: look for any left in the lab's cgroups. A zombie
    // holds nothing (its parent, killed with the host, leaves it to the machine's init to reap).
    const inLab = fs
      .readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const cgroups = fs.readFileSync(`/proc/${p}/cgroup`, "utf8");
          const state = /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"))?.[1];
          return cgroups.includes(`/${s.b.lab}/`) && state !== "Z";
        } catch {
          return false;
        }
      });
    expect(inLab).toEqual([]);
  });
});
