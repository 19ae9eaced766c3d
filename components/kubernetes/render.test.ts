import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { unitLibraryFile } from "../host/shell";
import { imageRefs } from "../runtime/images";
import { controlPlaneComponents, pkiFiles } from "./facts";
import {
  controlPlaneFiles,
  inputsLabel,
  kubeletFiles,
  manifestPath,
  renderAuthenticationConfig,
  renderFlags,
  renderHelperScript,
  renderKubeconfig,
  renderKubeletConfig,
  renderKubeletDropIn,
  renderKubeletUnit,
  keepalivedFiles,
  kubeProxyFiles,
  renderKeepalivedConfig,
  renderKubeProxyConfig,
  renderKubeProxyUnit,
} from "./render";
import type { ControlPlaneFilesInput, Pod } from "./render";
import { defaultLeaderElection } from "../../config/kubernetes";

const host = { name: "core-01", address: "172.17.8.101" };
const script = fs.readFileSync(path.join(__dirname, "rwk-kube.sh"), "utf8");
const library = fs.readFileSync(unitLibraryFile, "utf8");
const pem = (what: string) => `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;
const cpInput: ControlPlaneFilesInput = {
  host,
  images: imageRefs("1.34.4"),
  etcdServers: ["https://172.17.8.101:2379", "https://172.17.8.102:2379", "https://172.17.8.103:2379"],
  serviceCidr: "10.3.0.0/24",
  clusterDomain: "cluster.local",
  leaderElection: defaultLeaderElection,
  caPem: pem("CA"),
  etcdCaPem: pem("ETCD CA"),
  apiserverCert: pem("APISERVER"),
  apiserverKey: pem("APISERVER KEY"),
  apiserverKubeletClientCert: pem("KUBELET CLIENT"),
  apiserverKubeletClientKey: pem("KUBELET CLIENT KEY"),
  apiserverEtcdClientCert: pem("ETCD CLIENT"),
  apiserverEtcdClientKey: pem("ETCD CLIENT KEY"),
  serviceAccountPublicKey: pem("SA PUB"),
  serviceAccountKey: pem("SA KEY"),
  controllerManager: { certPem: pem("CM"), keyPem: pem("CM KEY") },
  scheduler: { certPem: pem("SCHED"), keyPem: pem("SCHED KEY") },
  admin: { certPem: pem("ADMIN"), keyPem: pem("ADMIN KEY") },
};

const manifest = (files: { path: string; content: string }[], component: string): Pod =>
  yaml.load(files.find((f) => f.path === manifestPath(component as never))!.content) as Pod;
const command = (pod: Pod) => (pod.spec as { containers: { command: string[] }[] }).containers[0]!.command;

describe("the kubelet's files", () => {
  it("renders its configuration, unit and drop-in", () => {
    const config = renderKubeletConfig({
      host,
      clusterDns: "10.3.0.10",
      clusterDomain: "cluster.local",
      controlPlaneOnly: true,
    });
    expect(config).toMatchSnapshot();
    expect(renderKubeletUnit("1.34.4")).toMatchSnapshot();
    expect(renderKubeletDropIn(host)).toMatchSnapshot();
  });

  it("taints a control-plane host that is no worker, and only that", () => {
    const taints = (controlPlaneOnly: boolean) =>
      (
        yaml.load(
          renderKubeletConfig({
            host,
            clusterDns: "10.3.0.10",
            clusterDomain: "cluster.local",
            controlPlaneOnly,
          }),
        ) as { registerWithTaints: unknown[] }
      ).registerWithTaints;
    expect(taints(true)).toEqual([{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }]);
    expect(taints(false)).toEqual([]);
  });

  it("keeps its key private and says which files need a restart", () => {
    const files = kubeletFiles({
      host,
      version: "1.34.4",
      clusterDns: "10.3.0.10",
      clusterDomain: "cluster.local",
      controlPlaneOnly: false,
      apiserver: "https://172.17.8.101:6443",
      caPem: pem("CA"),
      certPem: pem("NODE"),
      keyPem: pem("NODE KEY"),
      script,
      library,
    });
    expect(files.map((f) => [f.path, f.mode, f.onChange])).toEqual([
      [pkiFiles.ca, "0644", "restart"],
      [pkiFiles.kubeletCert, "0644", "restart"],
      [pkiFiles.kubeletKey, "0600", "restart"],
      ["/etc/kubernetes/kubelet.conf", "0600", "restart"],
      ["/var/lib/kubelet/config.yaml", "0644", "restart"],
      ["/etc/systemd/system/kubelet.service", "0644", "restart"],
      ["/etc/systemd/system/kubelet.service.d/10-rwk.conf", "0644", "restart"],
      ["/usr/local/sbin/rwk-kube", "0755", "none"],
    ]);
    const kubeconfig = yaml.load(files[3]!.content) as {
      clusters: { cluster: { server: string } }[];
      users: { name: string; user: Record<string, string> }[];
    };
    expect(kubeconfig.clusters[0]!.cluster.server).toBe("https://172.17.8.101:6443");
    expect(kubeconfig.users[0]!.name).toBe("system:node:core-01");
    expect(Buffer.from(kubeconfig.users[0]!.user["client-key-data"]!, "base64").toString()).toBe(
      pem("NODE KEY"),
    );
  });

  it("renders the helper with its facts in front, as valid bash", () => {
    const helper = renderHelperScript(script, library);
    expect(helper).toContain("readonly kubelet_unit=kubelet.service\n");
    execFileSync("bash", ["-n"], { input: helper });
  });
});

describe("kube-proxy's files", () => {
  it("renders its configuration and unit", () => {
    expect(renderKubeProxyConfig({ host, podCidr: "10.244.0.0/16" })).toMatchSnapshot();
    expect(renderKubeProxyUnit("1.34.4")).toMatchSnapshot();
  });

  it("restarts it for any of its files, its key readable by root alone, as system:kube-proxy", () => {
    const files = kubeProxyFiles({
      host,
      podCidr: "10.244.0.0/16",
      version: "1.34.4",
      apiserver: "https://172.17.8.101:6443",
      caPem: pem("CA"),
      certPem: pem("PROXY"),
      keyPem: pem("PROXY KEY"),
    });
    expect(files.map((f) => [f.path, f.mode, f.onChange])).toEqual([
      ["/var/lib/kube-proxy/kubeconfig", "0600", "restart"],
      ["/var/lib/kube-proxy/config.yaml", "0644", "restart"],
      ["/etc/systemd/system/kube-proxy.service", "0644", "restart"],
    ]);
    const kubeconfig = yaml.load(files[0]!.content) as { users: { name: string }[] };
    expect(kubeconfig.users[0]!.name).toBe("system:kube-proxy");
  });
});

describe("keepalived's configuration", () => {
  const input = {
    host: { name: "core-02", address: "172.17.8.102" },
    nic: "eth0",
    peers: ["172.17.8.101", "172.17.8.103"],
    virtualIp: "172.17.8.100",
    rank: 1,
  };

  it("renders one VRRP router over unicast that holds the address while the local API server is ready", () => {
    expect(renderKeepalivedConfig(input)).toMatchSnapshot();
  });

  it("names every peer and the address on the host's own interface, and never preempts", () => {
    const conf = renderKeepalivedConfig({ ...input, nic: "enp0s8" });
    expect(conf).toContain("    172.17.8.101\n    172.17.8.103\n");
    expect(conf).toContain("172.17.8.100/32 dev enp0s8");
    expect(conf).toContain("  interface enp0s8\n");
    expect(conf).toContain("  nopreempt\n");
    expect(renderKeepalivedConfig({ ...input, rank: 0 })).toContain("  priority 150\n");
    expect(keepalivedFiles(input).map((f) => [f.path, f.mode, f.onChange])).toEqual([
      ["/etc/keepalived/keepalived.conf", "0644", "restart"],
    ]);
  });
});

describe("kubeconfigs", () => {
  it("embeds the CA and the client's certificate and key, one context", () => {
    expect(
      renderKubeconfig({
        server: "https://127.0.0.1:20001",
        caPem: pem("CA"),
        user: "kubernetes-admin",
        certPem: pem("ADMIN"),
        keyPem: pem("ADMIN KEY"),
      }),
    ).toMatchSnapshot();
  });
});

describe("the control plane's static pods", () => {
  const { files, inputs } = controlPlaneFiles(cpInput);

  it("renders the three manifests as snapshots", () => {
    for (const c of controlPlaneComponents)
      expect(files.find((f) => f.path === manifestPath(c))!.content).toMatchSnapshot(c);
  });

  it("points the API server at every etcd member over mutual TLS, with Node and RBAC", () => {
    const flags = command(manifest(files, "kube-apiserver"));
    expect(flags).toContain(
      "--etcd-servers=https://172.17.8.101:2379,https://172.17.8.102:2379,https://172.17.8.103:2379",
    );
    expect(flags).toContain("--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt");
    expect(flags).toContain("--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt");
    expect(flags).toContain("--authorization-mode=Node,RBAC");
    // Clients are checked against the Kubernetes CA alone: an etcd certificate is no identity here.
    expect(flags).toContain("--client-ca-file=/etc/kubernetes/pki/ca.crt");
    expect(flags.some((f) => f.startsWith("--anonymous-auth"))).toBe(false);
  });

  it("sorts every component's flags", () => {
    for (const c of controlPlaneComponents) {
      const names = command(manifest(files, c))
        .slice(1)
        .map((f) => f.split("=")[0]!);
      expect(names).toEqual([...names].sort());
    }
    expect(renderFlags({ b: 1, a: true, c: "x" })).toEqual(["--a=true", "--b=1", "--c=x"]);
  });

  it("lets anonymous requests reach the health checks only", () => {
    expect(yaml.load(renderAuthenticationConfig())).toEqual({
      apiVersion: "apiserver.config.k8s.io/v1beta1",
      kind: "AuthenticationConfiguration",
      anonymous: {
        enabled: true,
        conditions: [{ path: "/livez" }, { path: "/readyz" }, { path: "/healthz" }],
      },
    });
  });

  it("leader-elects the controller manager and the scheduler", () => {
    for (const c of ["kube-controller-manager", "kube-scheduler"])
      expect(command(manifest(files, c))).toContain("--leader-elect=true");
  });

  it("keeps keys and kubeconfigs private, and leaves the CA to the kubelet's files", () => {
    const modes = Object.fromEntries(files.map((f) => [f.path, f.mode]));
    expect(modes[pkiFiles.apiserverKey]).toBe("0600");
    expect(modes[pkiFiles.serviceAccountKey]).toBe("0600");
    expect(modes[pkiFiles.apiserverEtcdClientKey]).toBe("0600");
    expect(modes["/etc/kubernetes/controller-manager.conf"]).toBe("0600");
    expect(modes[pkiFiles.ca]).toBeUndefined();
    for (const c of controlPlaneComponents) expect(modes[manifestPath(c)]).toBe("0600");
  });

  it("labels each pod with what it reads, so a change rolls that pod only", () => {
    for (const c of controlPlaneComponents)
      expect(manifest(files, c).metadata).toMatchObject({ labels: { [inputsLabel]: inputs[c] } });
    const changed = (over: Partial<ControlPlaneFilesInput>) => {
      const other = controlPlaneFiles({ ...cpInput, ...over }).inputs;
      return controlPlaneComponents.filter((c) => other[c] !== inputs[c]);
    };
    expect(changed({ apiserverCert: pem("NEW") })).toEqual(["kube-apiserver"]);
    expect(changed({ scheduler: { certPem: pem("NEW"), keyPem: pem("NEW KEY") } })).toEqual([
      "kube-scheduler",
    ]);
    expect(changed({ serviceAccountKey: pem("NEW") })).toEqual(["kube-apiserver", "kube-controller-manager"]);
    expect(changed({ caPem: pem("NEW") })).toEqual([
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
    ]);
    expect(changed({ etcdServers: ["https://172.17.8.101:2379"] })).toEqual(["kube-apiserver"]);
    // etcd restored: every component starts afresh, none keeps a cache newer than etcd.
    expect(changed({ etcdRestore: "restore-b1-20261126t060000z" })).toEqual([...controlPlaneComponents]);
  });
});
