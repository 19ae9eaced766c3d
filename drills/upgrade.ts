// The workshop's empty "Upgrading Control Cluster", tested: three control-plane hosts behind the virtual
// IP, workers core-02 and core-03 serving the web Service (2 replicas, a budget of 1), the API probe, the
// HTTP probe through core-02's NodePort and the etcd writer on. Step 1 rolls etcd 3.5 → 3.6, member by
// member; step 2 rolls Kubernetes 1.33 → 1.34 in the version-skew policy's order, node by node (drained,
// its control plane, its kubelet and kube-proxy, Ready and schedulable again), and stops half way where a
// pod no controller manages blocks core-02's drain; with the pod gone, the next `pulumi up` finishes the
// roll. Then the way back is refused at preview, for both, with nothing changed.
import { expectMembers, expectNoAcknowledgedWriteLost, expectPutGet, longestAckGap } from "./checks";
import type { HttpSample } from "./http-probe";
import { apiSamples, expectApiWritesReadBack, kubectlOk } from "./kubernetes";
import { apiProbe, failedOf, httpProbe, httpProbeName } from "./probes";
import type { StepRecord } from "./report";
import type { Drill, DrillContext } from "./runner";
import { kubeletUnitName, kubeProxyUnitName, paths, ports } from "../components/kubernetes/facts";
import { unit as etcdUnit } from "../components/etcd/facts";
import { shellCommand } from "../components/host/shell";
import { imageRefs } from "../components/runtime/images";

const name = "upgrade";
const all = ["core-01", "core-02", "core-03"];
const etcdFrom = "3.5.35";
const etcdTo = "3.6.16";
const k8sFrom = "1.33.13";
const k8sTo = "1.34.4";
const run = `upgrade-${Date.now().toString(36)}`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Every member answers as running `version` (etcdctl endpoint status). */
async function expectEtcdVersion(ctx: DrillContext, version: string): Promise<void> {
  const status = await ctx.etcd.status();
  if (status.length !== all.length || status.some((s) => s.version !== version))
    throw new Error(
      `expected every member at etcd ${version}, etcdctl endpoint status: ${status.map((s) => `${s.endpoint} ${s.version}`).join(", ")}`,
    );
  ctx.note(`etcdctl endpoint status: all ${status.length} members run etcd ${version}`);
}

/** What a host runs: `--version` of the binary behind a unit's main process, as it runs now. */
async function runningVersion(ctx: DrillContext, host: string, unit: string): Promise<string> {
  const pid = shellCommand("systemctl", "show", "-p", "MainPID", "--value", unit);
  const script = `exe=/proc/$(${pid})/exe && "$exe" --version`;
  const r = await ctx.ssh(host, shellCommand("sh", "-c", script));
  if (r.code !== 0) throw new Error(`${unit}'s version on ${host}: ${r.stderr.trim()}`);
  return r.stdout.trim().split(/\s+/).at(-1)!;
}

/**
 * Every component reports `version`: each API server's /version (asked on its host), the controller
 * managers' and schedulers' pods, each node's kubelet (its Node's status and the running binary) and
 * kube-proxy (the running binary); every node Ready and schedulable.
 */
async function expectKubernetesVersion(ctx: DrillContext, version: string): Promise<void> {
  const v = `v${version}`;
  const found: string[] = [];
  for (const host of all) {
    // As the admin, from the host itself: this host's API server, not the one the virtual IP leads to.
    const r = await ctx.ssh(
      host,
      shellCommand(
        "kubectl",
        `--kubeconfig=${paths.adminKubeconfig}`,
        `--server=https://127.0.0.1:${ports.apiserver}`,
        "get",
        "--raw",
        "/version",
      ),
    );
    const apiserver =
      r.code === 0 ? (JSON.parse(r.stdout) as { gitVersion: string }).gitVersion : r.stderr.trim();
    const kubelet = await runningVersion(ctx, host, kubeletUnitName);
    const proxy = await runningVersion(ctx, host, kubeProxyUnitName);
    if ([apiserver, kubelet, proxy].some((x) => x !== v))
      found.push(`${host}: kube-apiserver ${apiserver}, kubelet ${kubelet}, kube-proxy ${proxy}`);
  }
  const pods = JSON.parse(await kubectlOk(ctx, ["get", "pods", "-n", "kube-system", "-o", "json"])) as {
    items: { metadata: { name: string }; spec: { containers: { image: string }[] } }[];
  };
  const staticPods = pods.items.filter((p) =>
    /^kube-(apiserver|controller-manager|scheduler)-/.test(p.metadata.name),
  );
  for (const p of staticPods)
    if (!p.spec.containers[0]!.image.endsWith(`:${v}`))
      found.push(`pod ${p.metadata.name}: ${p.spec.containers[0]!.image}`);
  if (staticPods.length !== 9) found.push(`${staticPods.length} control-plane pods, not 9`);
  const nodes = JSON.parse(await kubectlOk(ctx, ["get", "nodes", "-o", "json"])) as {
    items: {
      metadata: { name: string };
      spec: { unschedulable?: boolean };
      status: { nodeInfo: { kubeletVersion: string }; conditions: { type: string; status: string }[] };
    }[];
  };
  for (const n of nodes.items) {
    const ready = n.status.conditions.find((c) => c.type === "Ready")?.status;
    if (n.status.nodeInfo.kubeletVersion !== v || ready !== "True" || n.spec.unschedulable)
      found.push(
        `node ${n.metadata.name}: kubelet ${n.status.nodeInfo.kubeletVersion}, Ready ${ready}${n.spec.unschedulable ? ", cordoned" : ""}`,
      );
  }
  if (nodes.items.length !== all.length) found.push(`${nodes.items.length} nodes, not ${all.length}`);
  if (found.length > 0) throw new Error(`not everything runs Kubernetes ${v}: ${found.join("; ")}`);
  ctx.note(
    `every component reports ${v}: 3 API servers (/version), 3 controller managers and 3 schedulers (their pods' images), 3 kubelets and 3 kube-proxies (the running binaries), 3 nodes Ready and schedulable`,
  );
}

/** When a unit's main process last started on each host (the hosts share the workstation's clock). */
async function unitStarts(ctx: DrillContext, unit: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const started = shellCommand("systemctl", "show", "-p", "ExecMainStartTimestamp", "--value", unit);
  const script = `date -d "$(${started})" +%s%3N`;
  for (const host of all) {
    const r = await ctx.ssh(host, shellCommand("sh", "-c", script));
    if (r.code !== 0) throw new Error(`${unit}'s start on ${host}: ${r.stderr.trim()}`);
    out.set(host, Number(r.stdout.trim()));
  }
  return out;
}

/**
 * What `pulumi preview` plans for a change on the hosts, by host, in its order: "core-01: 5 updates, 1
 * replace". Our components' own updates do nothing on a host: their args change (in a preview, also by the
 * pending change the safety rules compare with, policy/README.md).
 */
async function previewByHost(ctx: DrillContext, changes: Record<string, unknown>): Promise<string> {
  const planned = (await ctx.preview(changes)).filter(
    (s) => s.op !== "same" && s.op !== "read" && !(s.op === "update" && s.type.startsWith("rwk:")),
  );
  const byHost = new Map<string, Map<string, number>>();
  for (const s of planned) {
    const host = /core-\d\d/.exec(s.name)?.[0] ?? "the stack";
    const ops = byHost.get(host) ?? new Map<string, number>();
    ops.set(s.op, (ops.get(s.op) ?? 0) + 1);
    byHost.set(host, ops);
  }
  return [...byHost]
    .map(([host, ops]) => `${host}: ${[...ops].map(([op, n]) => `${n} ${op}`).join(", ")}`)
    .join("; ");
}

/** What each client recorded between two times: the API probe's calls, the Service's requests, etcd's writes. */
function clientSamples(ctx: DrillContext, from: number, to: number) {
  const within = <S extends { start: number; end: number }>(s: S[]) =>
    s.filter((x) => x.start >= from && x.end <= to);
  return {
    api: within(apiSamples(ctx)),
    http: within(ctx.samples(httpProbeName) as HttpSample[]),
    writes: within(ctx.writes()),
  };
}

/** The step's numbers every client sees: the API's longest gap and failed calls, the Service's, etcd's. */
function clientNumbers(ctx: DrillContext, step: StepRecord): Record<string, string> {
  const { api, http, writes } = clientSamples(ctx, step.upStart, step.upEnd);
  if (api.length === 0 || http.length === 0 || writes.length === 0)
    throw new Error("a probe recorded nothing during the update");
  return {
    "whole update (pulumi up)": seconds(step.upEnd - step.upStart),
    "API: longest time without an acknowledged write (virtual IP)": seconds(
      longestAckGap(api, step.upStart, step.upEnd),
    ),
    "API calls failed": failedOf(api),
    "HTTP requests to the Service failed": failedOf(http),
    "etcd writes failed": failedOf(writes),
  };
}

/** Each node's kubelet version and whether it is cordoned, in name order. */
async function nodeStates(ctx: DrillContext): Promise<Map<string, { kubelet: string; cordoned: boolean }>> {
  const nodes = JSON.parse(await kubectlOk(ctx, ["get", "nodes", "-o", "json"])) as {
    items: {
      metadata: { name: string };
      spec: { unschedulable?: boolean };
      status: { nodeInfo: { kubeletVersion: string } };
    }[];
  };
  return new Map(
    nodes.items
      .map(
        (n) =>
          [
            n.metadata.name,
            { kubelet: n.status.nodeInfo.kubeletVersion, cordoned: !!n.spec.unschedulable },
          ] as const,
      )
      .sort((a, b) => a[0].localeCompare(b[0])),
  );
}

/** A pod that no controller manages, bound to core-02: \`kubectl drain\` refuses to evict it (no --force). */
const blocker = "upgrade-blocker";

async function startBlocker(ctx: DrillContext): Promise<void> {
  await kubectlOk(ctx, [
    "run",
    blocker,
    `--image=${imageRefs(k8sFrom).busybox}`,
    "--image-pull-policy=Never",
    "--restart=Never",
    `--overrides=${JSON.stringify({ spec: { nodeName: "core-02" } })}`,
    "--command",
    "--",
    "sleep",
    "3600",
  ]);
  ctx.note(`for the next step, behind Pulumi's back: a pod no controller manages (${blocker}) on core-02`);
}

export const upgrade: Drill = {
  name,
  title: `upgrade: etcd ${etcdFrom} → ${etcdTo}, then Kubernetes ${k8sFrom} → ${k8sTo}, rolling; the way back refused`,
  writerIntervalMs: 100,
  probes: () => [apiProbe(run, 100), httpProbe(100, "core-02")],
  steps: () => {
    // When the Kubernetes roll began (its first, interrupted, update).
    let rollStart = 0;
    // How long that first update ran before it stopped.
    let firstUpMs = 0;
    return [
      {
        title: `three control-plane hosts behind the virtual IP, workers core-02 and core-03, at etcd ${etcdFrom} and Kubernetes ${k8sFrom}`,
        set: {},
        check: async (ctx) => {
          await expectMembers(ctx, all);
          await expectEtcdVersion(ctx, etcdFrom);
          await expectKubernetesVersion(ctx, k8sFrom);
        },
      },
      {
        title: `etcd ${etcdTo} (\`etcdVersion: ${etcdTo}\`): one member at a time, each healthy before the next`,
        set: { etcdVersion: etcdTo },
        check: async (ctx, step) => {
          await expectMembers(ctx, all);
          await expectEtcdVersion(ctx, etcdTo);
          await expectPutGet(ctx, `${name}-etcd`);
          ctx.note(
            `\`pulumi preview\` of the next step (kubernetesVersion: ${k8sTo}) plans: ${await previewByHost(ctx, { kubernetesVersion: k8sTo })}`,
          );
          await startBlocker(ctx);
          const starts = await unitStarts(ctx, etcdUnit);
          const order = [...starts].sort((a, b) => a[1] - b[1]);
          step.numbers = {
            ...clientNumbers(ctx, step),
            ...Object.fromEntries(
              order.map(([host, t]) => [
                `${host}'s member restarted on ${etcdTo}`,
                `+${seconds(t - step.upStart)}`,
              ]),
            ),
          };
        },
      },
      {
        title: `Kubernetes ${k8sTo} (\`kubernetesVersion: ${k8sTo}\`), with a pod no controller manages on core-02: the roll stops there, half way`,
        set: { kubernetesVersion: k8sTo },
        expectUpError: /node core-02 not drained: refused/,
        check: async (ctx, step) => {
          rollStart = step.upStart;
          firstUpMs = step.upEnd - step.upStart;
          step.numbers = clientNumbers(ctx, step);
          const nodes = await nodeStates(ctx);
          const seen = [...nodes].map(([n, s]) => `${n} ${s.kubelet}${s.cordoned ? " (cordoned)" : ""}`);
          const want = `core-01 v${k8sTo},core-02 v${k8sFrom} (cordoned),core-03 v${k8sFrom}`;
          if (seen.join() !== want) throw new Error(`expected ${want}; nodes: ${seen.join(", ")}`);
          ctx.note(`stopped half way: ${seen.join(", ")}; kubectl drain refused the unmanaged pod`);
          const left = await previewByHost(ctx, {});
          // core-01's old release copies, replaced by this update, are deleted at its end: all that is
          // left of core-01 is those deletions.
          if (/core-01: (?!\d+ delete-replaced(;|$))/.test(left))
            throw new Error(`core-01 is done, yet preview plans: ${left}`);
          ctx.note(`\`pulumi preview\` plans what is left: ${left}`);
          await kubectlOk(ctx, ["delete", "pod", blocker, "--wait=true", "--ignore-not-found"]);
          ctx.note(`the unmanaged pod ${blocker} deleted`);
        },
      },
      {
        title: `\`pulumi up\` again: the roll goes on from core-02`,
        set: {},
        check: async (ctx, step) => {
          await expectKubernetesVersion(ctx, k8sTo);
          // When each kubelet restarted on the new release: in config's order, one node after another.
          const restarts = [...(await unitStarts(ctx, kubeletUnitName))].sort((x, y) => x[1] - y[1]);
          const order = restarts.map(([h]) => h);
          if (order.join() !== all.join() || restarts.some(([, t]) => t < rollStart))
            throw new Error(
              `kubelets restarted in the order ${order.join(", ")} (${restarts.map(([h, t]) => `${h} +${seconds(t - rollStart)}`).join(", ")}), not ${all.join(", ")} after the roll began`,
            );
          ctx.note(`kubelets restarted on ${k8sTo} one node after another: ${order.join(" → ")}`);
          // From the first update's start to this one's end: the checks and the deleted pod between them too.
          const rollHttp = clientSamples(ctx, rollStart, step.upEnd).http;
          step.numbers = {
            [`the Kubernetes roll: both updates`]: seconds(firstUpMs + step.upEnd - step.upStart),
            "the Kubernetes roll: HTTP requests to the Service failed": failedOf(rollHttp),
            ...clientNumbers(ctx, step),
            ...Object.fromEntries(
              restarts.map(([host, t], i) => [
                `${host}'s kubelet restarted on ${k8sTo}`,
                `+${seconds(t - rollStart)} after the first update began${i > 0 ? `, ${seconds(t - restarts[i - 1]![1])} after ${restarts[i - 1]![0]}'s` : ""}`,
              ]),
            ),
          };
        },
      },
      {
        title: `back to etcd ${etcdFrom} and Kubernetes ${k8sFrom}: both refused at preview, nothing changed, nothing lost`,
        set: { etcdVersion: etcdFrom, kubernetesVersion: k8sFrom },
        expectUpError:
          /etcdVersion: 3\.6\.16 → 3\.5\.35 goes back a minor version[\s\S]*kubernetesVersion: 1\.34\.4 → 1\.33\.13 goes back a minor version/,
        check: async (ctx) => {
          await expectEtcdVersion(ctx, etcdTo);
          await expectKubernetesVersion(ctx, k8sTo);
          // Nothing lost: every API write and etcd write acknowledged during the drill reads back.
          await expectApiWritesReadBack(ctx, run);
          await expectNoAcknowledgedWriteLost(ctx);
        },
      },
    ];
  },
};
