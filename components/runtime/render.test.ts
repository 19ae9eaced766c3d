import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { unitLibraryFile } from "../host/shell";
import { restartHash } from "../host/files";
import {
  podSubnetOf,
  releaseLinks,
  renderCniConfig,
  renderContainerdConfig,
  renderPodRoutes,
  renderPodRoutesUnit,
  renderCrictlConfig,
  renderHelperScript,
  renderLinkCommand,
  runtimeFiles,
} from "./render";

const script = fs.readFileSync(path.join(__dirname, "rwk-runtime.sh"), "utf8");
const library = fs.readFileSync(unitLibraryFile, "utf8");
const pause = "registry.k8s.io/pause:3.10.1";

/** containerd's config as a TOML parser reads it (Python's tomllib), as JSON. */
function parsedToml(text: string): Record<string, unknown> {
  const py = "import json, sys, tomllib; print(json.dumps(tomllib.loads(sys.stdin.read())))";
  return JSON.parse(execFileSync("python3", ["-c", py], { input: text, encoding: "utf8" })) as Record<
    string,
    unknown
  >;
}

describe("container runtime renderers", () => {
  it("renders containerd's config: the CRI with the pause sandbox, the systemd cgroup driver, the CNI dirs", () => {
    const text = renderContainerdConfig(pause);
    expect(text).toMatchSnapshot();
    expect(parsedToml(text)).toEqual({
      version: 2,
      plugins: {
        "io.containerd.grpc.v1.cri": {
          restrict_oom_score_adj: true,
          enable_unprivileged_icmp: true,
          enable_unprivileged_ports: true,
          sandbox_image: pause,
          cni: { bin_dir: "/opt/cni/bin", conf_dir: "/etc/cni/net.d" },
          containerd: {
            default_runtime_name: "runc",
            snapshotter: "overlayfs",
            runtimes: { runc: { runtime_type: "io.containerd.runc.v2", options: { SystemdCgroup: true } } },
          },
        },
      },
    });
  });

  it("points crictl at containerd's CRI socket", () => {
    const text = renderCrictlConfig();
    expect(text).toMatchSnapshot();
    expect(yaml.load(text)).toEqual({
      "runtime-endpoint": "unix:///run/containerd/containerd.sock",
      "image-endpoint": "unix:///run/containerd/containerd.sock",
      timeout: 10,
    });
  });

  it("gives each host a bridge pod network on a /24 of its own", () => {
    const text = renderCniConfig("172.17.8.102", "10.244.0.0/16");
    expect(text).toMatchSnapshot();
    const config = JSON.parse(text) as { plugins: { type: string; ipam?: unknown }[] };
    expect(config.plugins.map((p) => p.type)).toEqual(["bridge", "portmap"]);
    expect(config.plugins[0]!.ipam).toMatchObject({
      type: "host-local",
      ranges: [[{ subnet: "10.244.102.0/24" }]],
    });
  });

  it.each([
    ["172.17.8.101", "10.244.101.0/24"],
    ["10.1.2.1", "10.244.1.0/24"],
    ["192.168.0.254", "10.244.254.0/24"],
  ])("numbers the pod subnet of %s by its last byte: %s", (address, subnet) => {
    expect(podSubnetOf(address, "10.244.0.0/16")).toBe(subnet);
  });

  it("takes the pod subnet from the stack's pod CIDR, and refuses one that is not a /16", () => {
    expect(podSubnetOf("172.17.8.102", "10.32.0.0/16")).toBe("10.32.102.0/24");
    expect(() => podSubnetOf("172.17.8.102", "10.32.0.0/12")).toThrow('pod CIDR "10.32.0.0/12" is not a /16');
  });

  it.each(["172.17.8.0", "172.17.8.255", "core-01", "fe80::1"])(
    "has no pod subnet for address %s",
    (address) => {
      expect(() => podSubnetOf(address, "10.244.0.0/16")).toThrow(
        `no pod subnet for host address "${address}"`,
      );
    },
  );

  it("renders the helper with its facts in front, as valid bash", () => {
    const helper = renderHelperScript(script, library);
    expect(helper.split("\n").slice(0, 8)).toEqual([
      "#!/bin/bash",
      "# Facts rendered from components/runtime/facts.ts by real-world-kubernetes.",
      "readonly unit=containerd.service",
      "readonly namespace=k8s.io",
      "readonly socket=/run/containerd/containerd.sock",
      "readonly crictl=/usr/local/bin/crictl",
      "readonly restart_pending=/var/lib/rwk-runtime/restart-pending",
      "readonly applied_config=/var/lib/rwk-runtime/config",
    ]);
    execFileSync("bash", ["-n"], { input: helper });
  });

  it("starts its unit with the shared library, whose variables do not clash with its facts", () => {
    // The facts hold a readonly `unit`; the library's unit_start must not declare one of its own.
    const helper = renderHelperScript("", library);
    const stubs =
      "systemctl() { case $1 in show) if [[ $3 == ActiveState ]]; then echo active; else echo id-1; fi ;; *) return 0 ;; esac; }";
    const r = spawnSync(
      "bash",
      [
        "-euo",
        "pipefail",
        "-c",
        `${helper}\n${stubs}\nunit_start x.service /nonexistent/marker 5 x true && echo "started:\${unit_action:-nothing}"`,
      ],
      // stdin from /dev/null: Node's pipes are sockets, and bash run with a socket for stdin thinks sshd
      // started it and reads /etc/bash.bashrc (whose $PS1 fails -u) when SHLVL is below 2.
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("started:nothing\n");
  });

  it("restarts containerd for its own config alone", () => {
    const files = runtimeFiles({
      address: "172.17.8.102",
      podCidr: "10.244.0.0/16",
      sandboxImage: pause,
      script,
      library,
      routes: [{ subnet: "10.244.101.0/24", gateway: "172.17.8.101" }],
    });
    expect(files.map((f) => `${f.path} ${f.mode} ${f.onChange}`)).toEqual([
      "/etc/containerd/config.toml 0644 restart",
      "/etc/cni/net.d/10-rwk-bridge.conflist 0644 reload",
      "/etc/rwk-runtime/pod-routes 0644 none",
      "/etc/systemd/system/rwk-pod-routes.service 0644 none",
      "/etc/crictl.yaml 0644 none",
      "/usr/local/sbin/rwk-runtime 0755 none",
    ]);
    // A new helper, a new pod network, new routes or crictl's settings restart nothing.
    const other = runtimeFiles({
      address: "172.17.8.103",
      podCidr: "10.244.0.0/16",
      sandboxImage: pause,
      script: `${script}\n`,
      library,
      routes: [],
    });
    expect(restartHash(other)).toBe(restartHash(files));
    const newPause = runtimeFiles({
      address: "172.17.8.102",
      podCidr: "10.244.0.0/16",
      sandboxImage: `${pause}-x`,
      script,
      library,
      routes: [],
    });
    expect(restartHash(newPause)).not.toBe(restartHash(files));
  });

  it("routes to the other nodes' pod subnets through their addresses, and puts them back at boot", () => {
    const routes = renderPodRoutes([
      { subnet: "10.244.103.0/24", gateway: "172.17.8.103" },
      { subnet: "10.244.101.0/24", gateway: "172.17.8.101" },
    ]);
    expect(routes).toBe(
      "# Managed by real-world-kubernetes (Pulumi); changes are overwritten.\n" +
        "10.244.101.0/24 172.17.8.101\n10.244.103.0/24 172.17.8.103\n",
    );
    expect(renderPodRoutesUnit()).toMatchSnapshot();
  });

  it("links the CNI plugins' directory and the commands to their releases", () => {
    const links = releaseLinks("1.34.4");
    expect(links).toEqual({
      "cni-plugins": [{ target: "/opt/rwk/cni-plugins-v1.10.0", link: "/opt/cni/bin" }],
      crictl: [{ target: "/opt/rwk/crictl-v1.34.0/crictl", link: "/usr/local/bin/crictl" }],
      kubernetes: [
        { target: "/opt/rwk/kubernetes-v1.34.4/kubelet", link: "/usr/local/bin/kubelet" },
        { target: "/opt/rwk/kubernetes-v1.34.4/kube-proxy", link: "/usr/local/bin/kube-proxy" },
        { target: "/opt/rwk/kubernetes-v1.34.4/kubectl", link: "/usr/local/bin/kubectl" },
      ],
    });
    expect(renderLinkCommand(links.kubernetes)).toMatchSnapshot();
  });

  it("switches a link to a new release, and refuses to replace a real directory", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-links-test-"));
    const run = (target: string, link: string) =>
      execFileSync("bash", ["-c", renderLinkCommand([{ target, link }])], { stdio: "pipe" });
    run(`${dir}/v1`, `${dir}/cni/bin`);
    run(`${dir}/v2`, `${dir}/cni/bin`);
    expect(fs.readlinkSync(`${dir}/cni/bin`)).toBe(`${dir}/v2`);
    fs.mkdirSync(`${dir}/own/bin`, { recursive: true });
    expect(() => run(`${dir}/v2`, `${dir}/own/bin`)).toThrow();
    expect(fs.readdirSync(`${dir}/own/bin`)).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
