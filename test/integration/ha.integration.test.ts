// The workshop's "High Availability of API Server" and of the scheduler and controller manager, through the
// real engine: the control plane grows from core-01 to all three hosts one update at a time behind
// keepalived's virtual IP; every API server is pointed at every etcd member; one scheduler and one
// controller manager lead through their Leases; with the host that holds the virtual IP stopped, kubectl
// through the stable address still works, and the address stays where it went when the host comes back.
import { kubernetesVersions } from "../../config";
import { shellCommand } from "../../components/host/shell";
import { controlPlaneLeases, hostsHolding, readLeaseHolders } from "../../drills/kubernetes";
import { changed } from "../../workstation/stack";
import { ClusterSession, stepTimer, until } from "./cluster";

const version = kubernetesVersions[0]!;
const hosts = ["core-01", "core-02", "core-03"];
const address = (host: string) => `172.17.8.10${host.slice(-1)}`;
const virtualIp = "172.17.8.100";
const base = {
  etcdMembers: hosts,
  workers: ["core-02", "core-03"],
  apiVirtualIp: virtualIp,
  pauseReplicas: 2,
};
const s = new ClusterSession("ha-it", version);

beforeAll(async () => {
  await s.open({ ...base, controlPlane: ["core-01"] });
});

afterAll(async () => {
  await s.dispose();
});

/** The control-plane hosts that hold the virtual IP now. */
const holders = (controlPlane: string[]) => hostsHolding(virtualIp, controlPlane, (h, c) => s.sshOk(h, c));

/** Who holds each of the two Leases, by host (the holder identity is `<host>_<uuid>`). */
async function leaseHolders(): Promise<string[]> {
  const leases = await readLeaseHolders((args) => s.kubectl(...args));
  return controlPlaneLeases.map((l) => leases[l].host);
}

describe("a control plane that survives a host", () => {
  it("runs core-01's control plane behind the virtual IP, which kubelets and the workstation use", async () => {
    await s.up();
    expect(await holders(["core-01"])).toEqual(["core-01"]);
    expect(await s.kubectl("get", "--raw", "/readyz")).toBe("ok");
    // Workers reach the API server through the virtual IP; the control-plane host through its own.
    expect(await s.sshOk("core-02", "grep server: /etc/kubernetes/kubelet.conf")).toContain(
      `https://${virtualIp}:6443`,
    );
    expect(await s.sshOk("core-01", "grep server: /etc/kubernetes/kubelet.conf")).toContain(
      `https://${address("core-01")}:6443`,
    );
    await until(
      "three Ready nodes",
      60,
      async () =>
        (await s.kubectl(
          "get",
          "nodes",
          "-o",
          'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
        )) === "True True True",
    );
  });

  it("grows the control plane one host per update; every API server is ready against every etcd member", async () => {
    for (const n of [2, 3]) {
      const controlPlane = hosts.slice(0, n);
      s.b.configure({ ...base, controlPlane });
      const timer = stepTimer();
      const started = Date.now();
      await s.up(timer.onEvent);
      const joined = controlPlane.at(-1)!;
      console.log(
        `control plane ${n - 1} → ${n} hosts (${joined} joins): pulumi up ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
          `its static pods to a ready API server ${timer.seconds(`control-plane-${joined}-ready`).toFixed(1)} s`,
      );
      // The address stayed where it was: nothing preempts it.
      expect(await holders(controlPlane)).toEqual(["core-01"]);
    }
    const members = hosts.map((h) => `https://${address(h)}:2379`);
    for (const h of hosts) {
      // Straight at each host's API server, through the cluster's CA: its certificate names the host and
      // the virtual IP.
      const ca = "/etc/kubernetes/pki/ca.crt";
      expect(
        await s.sshOk(h, shellCommand("curl", "-fsS", "--cacert", ca, `https://${address(h)}:6443/readyz`)),
      ).toBe("ok");
      expect(
        await s.sshOk(h, shellCommand("curl", "-fsS", "--cacert", ca, `https://${virtualIp}:6443/readyz`)),
      ).toBe("ok");
      const servers = await s.kubectl(
        "get",
        "pod",
        "-n",
        "kube-system",
        `kube-apiserver-${h}`,
        "-o",
        "jsonpath={.spec.containers[0].command}",
      );
      expect(servers).toContain(`--etcd-servers=${members.join(",")}`);
      const verbose = await s.sshOk(
        h,
        shellCommand("curl", "-fsS", "--cacert", ca, `https://${address(h)}:6443/readyz?verbose`),
      );
      expect(verbose).toContain("[+]etcd ok");
    }
    // One leader each, among the control-plane hosts, and the others' pods are running, waiting.
    const leaders = await leaseHolders();
    for (const leader of leaders) expect(hosts).toContain(leader);
    console.log(`Lease holders: kube-controller-manager on ${leaders[0]}, kube-scheduler on ${leaders[1]}`);
    const running = await s.kubectl(
      "get",
      "pods",
      "-n",
      "kube-system",
      "-l",
      "tier=control-plane",
      "-o",
      'jsonpath={range .items[*]}{.metadata.name} {.status.phase}{"\\n"}{end}',
    );
    expect(running.split("\n").filter((l) => l.endsWith(" Running"))).toHaveLength(9);
    // A second up changes nothing.
    const changes = await s.up();
    expect(changed(changes)).toEqual({});
  });

  it("keeps kubectl working through the virtual IP with the host that holds it stopped", async () => {
    const controlPlane = hosts;
    const [holder] = await holders(controlPlane);
    s.b.configure({ ...base, controlPlane, hostStates: { [holder!]: "stopped" } });
    await s.up();
    const stoppedAt = Date.now();
    await until(
      "kubectl through the virtual IP",
      30,
      async () => (await s.kubectl("get", "--raw", "/readyz")) === "ok",
    );
    const others = controlPlane.filter((h) => h !== holder);
    const now = await holders(others);
    expect(now).toHaveLength(1);
    console.log(
      `${holder!} stopped: the virtual IP on ${now[0]!}, kubectl answered ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s after the up`,
    );
    // The cluster still schedules and runs: a new pod on a live worker.
    await s.kubectl("scale", "deployment", "pause", "--replicas=3");
    await until(
      "three pause pods Running",
      90,
      async () =>
        (
          await s.kubectl(
            "get",
            "pods",
            "-l",
            "app=pause",
            "--field-selector=status.phase=Running",
            "-o",
            "name",
          )
        )
          .split("\n")
          .filter(Boolean).length >= 3,
    );
    s.b.configure({ ...base, controlPlane });
    await s.up();
    // Back, and not the holder again: nothing preempts.
    expect(await holders(controlPlane)).toEqual(now);
    expect(await s.kubectl("get", "--raw", "/readyz")).toBe("ok");
  });
});
