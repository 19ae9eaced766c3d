// The plain baseline for bench/control-plane.ts, kubeadm-like: the same three hosts (the same driver
// commands), certificates made with openssl, a three-member etcd on mutual TLS grown as the stack grows it
// (first member alone, then each added as a learner, started, promoted), containerd, the releases and the
// images on core-01, the kubelet and the control plane's static pods, /readyz, and the pause Deployment
// created with kubectl. With `workers`, core-02 and core-03 get the same runtime, a kubelet, kube-proxy
// (on core-01 too) and routes to each other's pods, and the workloads the stack runs (cluster DNS, pause,
// web) are applied with kubectl and awaited ready. No engine, no guards, no waits beyond what each next
// step needs. The files and objects have the contents the stack pushes (the same pure renderers): what is
// measured is how they get there.
//
//   node -r ts-node/register/transpile-only bench/control-plane-baseline.ts <lab> [workers]
//   (removed with removeLab)
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { builtDir } from "../components/built";
import { memberSans } from "../components/etcd/render";
import { identities, nodeIdentity, paths as kubePaths, pkiFiles } from "../components/kubernetes/facts";
import { renderClusterDns, renderPause, renderWeb } from "../components/kubernetes/manifests";
import {
  apiserverUrl,
  controlPlaneFiles,
  kubeletFiles,
  kubeProxyFiles,
} from "../components/kubernetes/render";
import { apiserverSans } from "../components/pki/kubernetes-pki";
import { paths as runtimePaths, toolVersions } from "../components/runtime/facts";
import {
  podSubnetOf,
  renderCniConfig,
  renderContainerdConfig,
  renderCrictlConfig,
} from "../components/runtime/render";
import { imageRefs, imagesForRoles, requireImages } from "../components/runtime/images";
import type { ImageName } from "../components/runtime/images";
import { shellCommand, shellQuote } from "../components/host/shell";
import { defaultLeaderElection, kubernetesVersions } from "../config";
import { cluster } from "../versions.json";
import { driverScript, projectRoot, run } from "../workstation/lab";

const lab = process.argv[2];
const withWorkers = process.argv[3] === "workers";
if (!lab || (process.argv[3] !== undefined && !withWorkers))
  throw new Error("usage: control-plane-baseline.ts <lab> [workers]");
const k8sVersion = kubernetesVersions[0]!;
const etcdVersion = cluster.etcd[0]!;
const hosts = [1, 2, 3].map((i) => ({ name: `core-0${i}`, address: `172.17.8.10${i}` }));
const cp = hosts[0]!;
/** The hosts with a Kubernetes role: the control plane's, and the workers when asked. */
const nodes = withWorkers ? hosts : [cp];
const work = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-bench-plain-"));
const drv = driverScript("machines");

async function ok(argv: string[], input?: string): Promise<string> {
  const r = await run(argv, { timeoutMs: 600_000, ...(input === undefined ? {} : { input }) });
  if (r.code !== 0) throw new Error(`${argv.slice(0, 6).join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const ports: Record<string, number> = {};
async function ssh(host: string, command: string, input?: string): Promise<string> {
  ports[host] ??= (JSON.parse(await ok([drv, "info", lab!, host])) as { sshPort: number }).sshPort;
  const args = ["-i", path.join(work, "id"), "-p", String(ports[host]), "-o", "StrictHostKeyChecking=no"];
  args.push("-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes");
  return ok(["ssh", ...args, "root@127.0.0.1", command], input);
}

/** A directory of the workstation into `dir` on the host, as a tar stream over SSH. */
async function copyDir(host: string, from: string, dir: string): Promise<void> {
  const tar = await run([
    "tar",
    "-C",
    path.dirname(from),
    "-cf",
    path.join(work, `${host}-${path.basename(from)}.tar`),
    path.basename(from),
  ]);
  if (tar.code !== 0) throw new Error(`tar ${from}: ${tar.stderr}`);
  ports[host] ??= (JSON.parse(await ok([drv, "info", lab!, host])) as { sshPort: number }).sshPort;
  await ok([
    "bash",
    "-c",
    `ssh -i ${shellQuote(path.join(work, "id"))} -p ${ports[host]} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null ` +
      `-o LogLevel=ERROR -o BatchMode=yes root@127.0.0.1 ${shellQuote(`mkdir -p ${dir} && tar -C ${dir} -xf -`)} < ${shellQuote(path.join(work, `${host}-${path.basename(from)}.tar`))}`,
  ]);
}

/** Files onto a host in one go: `install` each from a heredoc-free stdin stream (base64 per file). */
async function putFiles(
  host: string,
  files: { path: string; mode: string; content: string }[],
): Promise<void> {
  const script = files
    .map(
      (f) =>
        `mkdir -p ${shellQuote(path.dirname(f.path))} && echo ${Buffer.from(f.content).toString("base64")} | base64 -d > ${shellQuote(f.path)} && chmod ${f.mode} ${shellQuote(f.path)}`,
    )
    .join("\n");
  await ssh(host, "bash -s", script);
}

// --- certificates, with openssl --------------------------------------------------------------------
interface Pem {
  cert: string;
  key: string;
}
async function ca(name: string): Promise<Pem & { base: string }> {
  const base = path.join(work, name);
  await ok(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${base}.key`]);
  await ok([
    "openssl",
    "req",
    "-x509",
    "-new",
    "-key",
    `${base}.key`,
    "-subj",
    `/CN=${name}`,
    "-days",
    "3650",
    "-out",
    `${base}.crt`,
  ]);
  return { base, cert: fs.readFileSync(`${base}.crt`, "utf8"), key: fs.readFileSync(`${base}.key`, "utf8") };
}
async function leaf(
  authority: { base: string },
  name: string,
  subject: { commonName: string; organization?: string },
  sans: { dnsNames?: string[]; ipAddresses?: string[] } = {},
): Promise<Pem> {
  const base = path.join(work, name);
  const alt = [
    ...(sans.dnsNames ?? []).map((d) => `DNS:${d}`),
    ...(sans.ipAddresses ?? []).map((i) => `IP:${i}`),
  ];
  fs.writeFileSync(
    `${base}.ext`,
    `extendedKeyUsage=serverAuth,clientAuth\n${alt.length > 0 ? `subjectAltName=${alt.join(",")}\n` : ""}`,
  );
  const subj = `/CN=${subject.commonName}${subject.organization ? `/O=${subject.organization}` : ""}`;
  await ok(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${base}.key`]);
  await ok(["openssl", "req", "-new", "-key", `${base}.key`, "-subj", subj, "-out", `${base}.csr`]);
  await ok([
    "openssl",
    "x509",
    "-req",
    "-in",
    `${base}.csr`,
    "-CA",
    `${authority.base}.crt`,
    "-CAkey",
    `${authority.base}.key`,
    // A serial of its own: certificates are signed in parallel, and a shared serial file races.
    "-set_serial",
    `0x${randomBytes(16).toString("hex")}`,
    "-days",
    "365",
    "-extfile",
    `${base}.ext`,
    "-out",
    `${base}.crt`,
  ]);
  return { cert: fs.readFileSync(`${base}.crt`, "utf8"), key: fs.readFileSync(`${base}.key`, "utf8") };
}

// --- etcd ----------------------------------------------------------------------------------------------
const etcdDir = `/opt/plain/etcd-v${etcdVersion}`;
function etcdEnv(h: { name: string; address: string }, initial: string, state: string): string {
  const tls = "/etc/plain-etcd";
  return [
    `ETCD_NAME=${h.name}`,
    "ETCD_DATA_DIR=/var/lib/plain-etcd",
    `ETCD_LISTEN_CLIENT_URLS=https://${h.address}:2379,https://127.0.0.1:2379`,
    `ETCD_ADVERTISE_CLIENT_URLS=https://${h.address}:2379`,
    `ETCD_LISTEN_PEER_URLS=https://${h.address}:2380`,
    `ETCD_INITIAL_ADVERTISE_PEER_URLS=https://${h.address}:2380`,
    `ETCD_INITIAL_CLUSTER=${initial}`,
    `ETCD_INITIAL_CLUSTER_STATE=${state}`,
    `ETCD_CLIENT_CERT_AUTH=true`,
    `ETCD_TRUSTED_CA_FILE=${tls}/ca.crt`,
    `ETCD_CERT_FILE=${tls}/server.crt`,
    `ETCD_KEY_FILE=${tls}/server.key`,
    `ETCD_PEER_CLIENT_CERT_AUTH=true`,
    `ETCD_PEER_TRUSTED_CA_FILE=${tls}/ca.crt`,
    `ETCD_PEER_CERT_FILE=${tls}/server.crt`,
    `ETCD_PEER_KEY_FILE=${tls}/server.key`,
    "",
  ].join("\n");
}
const etcdUnit = [
  "[Service]",
  "EnvironmentFile=/etc/plain-etcd/env",
  `ExecStart=${etcdDir}/etcd`,
  "Restart=on-failure",
  "[Install]",
  "WantedBy=multi-user.target",
  "",
].join("\n");
const etcdctl = (here: string) =>
  `${etcdDir}/etcdctl --endpoints=https://${here}:2379 --cacert=/etc/plain-etcd/ca.crt --cert=/etc/plain-etcd/server.crt --key=/etc/plain-etcd/server.key`;

async function main(): Promise<void> {
  const started = Date.now();
  const lap = (what: string) =>
    process.stderr.write(`[plain] ${what}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  await ok(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path.join(work, "id")]);
  // Hosts and certificates at the same time, as the engine makes them.
  const hostsUp = ok(["bash", path.join(projectRoot, "bench", "hosts-baseline.sh"), lab!, work]);
  const etcdCa = await ca("etcd-ca");
  const members = await Promise.all(
    hosts.map((h) => leaf(etcdCa, `etcd-${h.name}`, { commonName: h.name }, memberSans(h))),
  );
  const etcdClient = await leaf(etcdCa, "apiserver-etcd-client", {
    commonName: "kube-apiserver-etcd-client",
  });
  const kubeCa = await ca("kubernetes-ca");
  const sans = apiserverSans({ host: cp, serviceIp: "10.3.0.1", clusterDomain: "cluster.local" });
  const [apiserver, kubeletClient, admin, cm, sched, proxy] = await Promise.all([
    leaf(kubeCa, "apiserver", { commonName: "kube-apiserver" }, sans),
    leaf(kubeCa, "apiserver-kubelet-client", identities.apiserverKubeletClient),
    leaf(kubeCa, "admin", identities.admin),
    leaf(kubeCa, "controller-manager", identities.controllerManager),
    leaf(kubeCa, "scheduler", identities.scheduler),
    leaf(kubeCa, "kube-proxy", identities.kubeProxy),
  ]);
  const nodeCerts = await Promise.all(
    nodes.map((n) =>
      leaf(kubeCa, `kubelet-${n.name}`, nodeIdentity(n.name), {
        dnsNames: [n.name],
        ipAddresses: [n.address],
      }),
    ),
  );
  await ok([
    "openssl",
    "ecparam",
    "-name",
    "prime256v1",
    "-genkey",
    "-noout",
    "-out",
    path.join(work, "sa.key"),
  ]);
  await ok(["openssl", "ec", "-in", path.join(work, "sa.key"), "-pubout", "-out", path.join(work, "sa.pub")]);
  await hostsUp;
  lap("hosts and certificates");

  // etcd: the release and its files on every host, then the member set grown one at a time.
  await Promise.all(
    hosts.map(async (h, i) => {
      await copyDir(h.name, builtDir("etcd", etcdVersion), "/opt/plain");
      await ssh(
        h.name,
        `${shellCommand("mv", `/opt/plain/etcd-v${etcdVersion}`, etcdDir)} 2>/dev/null || true`,
      );
      await putFiles(h.name, [
        { path: "/etc/plain-etcd/ca.crt", mode: "0644", content: etcdCa.cert },
        { path: "/etc/plain-etcd/server.crt", mode: "0644", content: members[i]!.cert },
        { path: "/etc/plain-etcd/server.key", mode: "0600", content: members[i]!.key },
        { path: "/etc/systemd/system/plain-etcd.service", mode: "0644", content: etcdUnit },
      ]);
    }),
  );
  let initial = `${cp.name}=https://${cp.address}:2380`;
  await putFiles(cp.name, [
    { path: "/etc/plain-etcd/env", mode: "0644", content: etcdEnv(cp, initial, "new") },
  ]);
  await ssh(
    cp.name,
    `systemctl daemon-reload && systemctl start --no-block plain-etcd && until ${etcdctl("127.0.0.1")} endpoint health >/dev/null 2>&1; do sleep 0.2; done`,
  );
  for (const h of hosts.slice(1)) {
    await ssh(
      cp.name,
      `until ${etcdctl("127.0.0.1")} member add ${h.name} --learner --peer-urls=https://${h.address}:2380 >/dev/null 2>&1; do sleep 0.5; done`,
    );
    initial = `${initial},${h.name}=https://${h.address}:2380`;
    await putFiles(h.name, [
      { path: "/etc/plain-etcd/env", mode: "0644", content: etcdEnv(h, initial, "existing") },
    ]);
    await ssh(h.name, "systemctl daemon-reload && systemctl start --no-block plain-etcd");
    await ssh(
      cp.name,
      `id=$(${etcdctl("127.0.0.1")} member list | awk -F', ' '$3=="${h.name}"{print $1}'); until ${etcdctl("127.0.0.1")} member promote "$id" >/dev/null 2>&1; do sleep 0.5; done`,
    );
  }
  lap("three etcd members on mutual TLS");

  // Each node's runtime: containerd's files, the releases, the images its roles run.
  const allImages = requireImages(k8sVersion, Object.keys(imageRefs(k8sVersion)) as ImageName[]);
  await Promise.all(
    nodes.map(async (n) => {
      await putFiles(n.name, [
        {
          path: runtimePaths.containerdConfig,
          mode: "0644",
          content: renderContainerdConfig(imageRefs(k8sVersion).pause),
        },
        { path: runtimePaths.cniConf, mode: "0644", content: renderCniConfig(n.address, "10.244.0.0/16") },
        { path: runtimePaths.crictlConfig, mode: "0644", content: renderCrictlConfig() },
      ]);
      await Promise.all([
        copyDir(n.name, builtDir("kubernetes", k8sVersion), "/opt/plain"),
        copyDir(n.name, builtDir("cni-plugins", toolVersions.cniPlugins), "/opt/plain"),
        copyDir(n.name, builtDir("crictl", toolVersions.crictl), "/opt/plain"),
      ]);
      await ssh(
        n.name,
        [
          `mkdir -p /opt/cni && ln -sfT /opt/plain/cni-plugins-v${toolVersions.cniPlugins} /opt/cni/bin`,
          `for b in kubelet kubectl kube-proxy; do ln -sf ${shellQuote(`/opt/plain/kubernetes-v${k8sVersion}`)}/"$b" /usr/local/bin/"$b"; done`,
          `ln -sf /opt/plain/crictl-v${toolVersions.crictl}/crictl /usr/local/bin/crictl`,
          // Not waiting on the job: starting containerd re-executes systemd in a lab host (rwk-container-mounts).
          "systemctl start --no-block containerd",
          "until crictl info >/dev/null 2>&1; do sleep 0.2; done",
        ].join(" && "),
      );
      // The archives in one directory, copied as one tar stream, imported one after another.
      const imageDir = path.join(work, `images-${n.name}`, "images");
      fs.mkdirSync(imageDir, { recursive: true });
      for (const name of imagesForRoles(n === cp ? ["controlPlane"] : ["worker"])) {
        const image = allImages.get(name)!;
        fs.copyFileSync(image.archive, path.join(imageDir, path.basename(image.archive)));
      }
      await copyDir(n.name, imageDir, "/var/lib/plain-images");
      await ssh(
        n.name,
        'for a in /var/lib/plain-images/images/*; do ctr -n k8s.io images import "$a" >/dev/null; done',
      );
    }),
  );
  lap(`containerd, the releases and the images on ${nodes.map((n) => n.name).join(", ")}`);

  // The kubelet and the static pods: the same files the stack pushes.
  const script = fs.readFileSync(path.join(projectRoot, "components", "kubernetes", "rwk-kube.sh"), "utf8");
  const library = fs.readFileSync(path.join(projectRoot, "components", "host", "rwk-unit.sh"), "utf8");
  const kubelet = (n: (typeof hosts)[number], i: number) =>
    kubeletFiles({
      host: n,
      version: k8sVersion,
      clusterDns: "10.3.0.10",
      clusterDomain: "cluster.local",
      controlPlaneOnly: n === cp,
      apiserver: apiserverUrl(cp.address),
      caPem: kubeCa.cert,
      certPem: nodeCerts[i]!.cert,
      keyPem: nodeCerts[i]!.key,
      script,
      library,
    });
  const plane = controlPlaneFiles({
    host: cp,
    leaderElection: defaultLeaderElection,
    images: imageRefs(k8sVersion),
    etcdServers: hosts.map((h) => `https://${h.address}:2379`),
    serviceCidr: "10.3.0.0/24",
    clusterDomain: "cluster.local",
    caPem: kubeCa.cert,
    etcdCaPem: etcdCa.cert,
    apiserverCert: apiserver.cert,
    apiserverKey: apiserver.key,
    apiserverKubeletClientCert: kubeletClient.cert,
    apiserverKubeletClientKey: kubeletClient.key,
    apiserverEtcdClientCert: etcdClient.cert,
    apiserverEtcdClientKey: etcdClient.key,
    serviceAccountPublicKey: fs.readFileSync(path.join(work, "sa.pub"), "utf8"),
    serviceAccountKey: fs.readFileSync(path.join(work, "sa.key"), "utf8"),
    controllerManager: { certPem: cm.cert, keyPem: cm.key },
    scheduler: { certPem: sched.cert, keyPem: sched.key },
    admin: { certPem: admin.cert, keyPem: admin.key },
  });
  await Promise.all(
    nodes.map(async (n, i) => {
      await putFiles(n.name, [...kubelet(n, i), ...(n === cp ? plane.files : [])]);
      await ssh(n.name, "systemctl daemon-reload && systemctl enable --now kubelet");
    }),
  );
  await ssh(
    cp.name,
    `until [ "$(curl -s --max-time 2 --cacert ${pkiFiles.ca} ${apiserverUrl(cp.address)}/readyz)" = ok ]; do sleep 0.5; done`,
  );
  lap("the control plane ready (/readyz)");
  if (!withWorkers) {
    await ssh(
      cp.name,
      `until ${shellCommand("kubectl", "--kubeconfig", kubePaths.adminKubeconfig, "create", "deployment", "pause", `--image=${imageRefs(k8sVersion).pause}`, "--replicas=1")} >/dev/null 2>&1; do sleep 0.5; done`,
    );
    lap("the pause Deployment created");
    return;
  }
  // kube-proxy on every node, and routes between the nodes' pod subnets.
  await Promise.all(
    nodes.map(async (n) => {
      const files = kubeProxyFiles({
        host: n,
        podCidr: "10.244.0.0/16",
        version: k8sVersion,
        apiserver: apiserverUrl(cp.address),
        caPem: kubeCa.cert,
        certPem: proxy.cert,
        keyPem: proxy.key,
      });
      await putFiles(n.name, files);
      const routes = nodes
        .filter((o) => o !== n)
        .map((o) =>
          shellCommand("ip", "route", "replace", podSubnetOf(o.address, "10.244.0.0/16"), "via", o.address),
        );
      await ssh(
        n.name,
        [
          "sysctl -qw net.ipv4.ip_forward=1",
          ...routes,
          "systemctl daemon-reload",
          "systemctl enable --now kube-proxy",
        ].join(" && "),
      );
    }),
  );
  lap("kube-proxy and the routes on every node");
  // The workloads, the same objects the stack creates, applied as the admin; then every node Ready and
  // every Deployment rolled out.
  const common = { workers: 2, kubernetesVersion: k8sVersion, tolerationSeconds: undefined };
  const objects = [
    ...Object.values(
      renderClusterDns({
        kubernetesVersion: k8sVersion,
        clusterIp: "10.3.0.10",
        clusterDomain: "cluster.local",
        tolerationSeconds: undefined,
      }),
    ),
    renderPause({ ...common, replicas: 1 }),
    ...Object.values(renderWeb({ ...common, replicas: 2, minAvailable: 1 })),
  ];
  const kubectl = (...args: string[]) =>
    shellCommand("kubectl", "--kubeconfig", kubePaths.adminKubeconfig, ...args);
  await ssh(
    cp.name,
    `${kubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=300s")} >/dev/null && ${kubectl("apply", "-f", "-")} >/dev/null`,
    JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
  );
  await ssh(
    cp.name,
    [["-n", "kube-system", "deployment/coredns"], ["deployment/pause"], ["deployment/web"]]
      .map((d) => `${kubectl("rollout", "status", ...d, "--timeout=300s")} >/dev/null`)
      .join(" && "),
  );
  lap("the workloads ready (cluster DNS, pause, web)");
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(() => fs.rmSync(work, { recursive: true, force: true }));
