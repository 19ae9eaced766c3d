// The workshop's "Individual Worker Failure": a worker host halted (a config change of its state); about a
// minute later its node is NotReady, and once the pods' tolerations of a NotReady node run out they are
// evicted and replaced on the surviving worker. Run twice: with Kubernetes' defaults (300 s) and with the
// workloads' toleration tuned from config (30 s); the HTTP probe measures the web Service throughout.
import { defaultTolerationSeconds } from "../config";
import { expectNoAcknowledgedWriteLost, longestAckGap, waitFor } from "./checks";
import type { HttpSample } from "./http-probe";
import { expectApiWritesReadBack, kubectlOk, nodeReadyCondition } from "./kubernetes";
import { apiProbe, failedOf, httpProbe, httpProbeName } from "./probes";
import type { StepRecord } from "./report";
import type { Drill, DrillContext, DrillStep } from "./runner";

const name = "worker-failure";
const lost = "core-03";
const kept = "core-02";
const run = `worker-${Date.now().toString(36)}`;
/** The workloads' tuned toleration of a NotReady or unreachable node (config workloadTolerationSeconds). */
export const tunedTolerationSeconds = 30;
/** The controller manager's node-monitor-grace-period (Kubernetes 1.34's default), for the bounds. */
const nodeMonitorGraceSeconds = 50;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface PodView {
  name: string;
  app: string;
  node: string;
  ready: boolean;
  deleting: boolean;
  /** When the API server marked it for deletion (its deletionTimestamp less its grace period), ms. */
  deletedAt?: number;
  /** When it last became Ready (its condition's lastTransitionTime), ms. */
  readySince?: number;
}

/** The pods of the workloads the drill follows (web, pause), where they run, ready or on their way out. */
async function workloadPods(ctx: DrillContext): Promise<PodView[]> {
  const out = await kubectlOk(ctx, ["get", "pods", "-l", "app in (web,pause)", "-o", "json"]);
  const list = JSON.parse(out) as {
    items: {
      metadata: {
        name: string;
        labels: Record<string, string>;
        deletionTimestamp?: string;
        deletionGracePeriodSeconds?: number;
      };
      spec: { nodeName?: string };
      status: { conditions?: { type: string; status: string; lastTransitionTime?: string }[] };
    }[];
  };
  return list.items.map((p) => {
    const ready = p.status.conditions?.find((c) => c.type === "Ready" && c.status === "True");
    const { deletionTimestamp, deletionGracePeriodSeconds } = p.metadata;
    return {
      name: p.metadata.name,
      app: p.metadata.labels["app"] ?? "",
      node: p.spec.nodeName ?? "",
      ready: ready !== undefined,
      deleting: deletionTimestamp !== undefined,
      ...(deletionTimestamp
        ? { deletedAt: Date.parse(deletionTimestamp) - (deletionGracePeriodSeconds ?? 0) * 1000 }
        : {}),
      ...(ready?.lastTransitionTime ? { readySince: Date.parse(ready.lastTransitionTime) } : {}),
    };
  });
}

/** Where each app's pods run, e.g. "web: core-02, core-03; pause: core-02 ×2, core-03 ×2". */
function placement(pods: PodView[]): string {
  const apps = [...new Set(pods.map((p) => p.app))].sort((a, b) => b.localeCompare(a));
  return apps
    .map((app) => {
      const counts = new Map<string, number>();
      for (const p of pods.filter((q) => q.app === app && !q.deleting))
        counts.set(p.node, (counts.get(p.node) ?? 0) + 1);
      const nodes = [...counts].sort().map(([n, c]) => (c > 1 ? `${n} ×${c}` : n));
      return `${app}: ${nodes.join(", ")}`;
    })
    .join("; ");
}

/** The desired replicas of the followed Deployments. */
async function desiredReplicas(ctx: DrillContext): Promise<number> {
  const out = await kubectlOk(ctx, [
    "get",
    "deployments",
    "web",
    "pause",
    "-o",
    "jsonpath={.items[*].spec.replicas}",
  ]);
  return out.split(/\s+/).reduce((sum, n) => sum + Number(n), 0);
}

/** Every web pod on both workers and ready: what the failure must cost. */
async function spreadOverWorkers(ctx: DrillContext): Promise<PodView[] | undefined> {
  const pods = (await workloadPods(ctx)).filter((p) => !p.deleting);
  const web = pods.filter((p) => p.app === "web");
  const desired = await desiredReplicas(ctx);
  const spread = [kept, lost].every((n) => web.some((p) => p.node === n && p.ready));
  return spread && pods.length === desired && pods.every((p) => p.ready) ? pods : undefined;
}

/**
 * The failure as the workshop has it, measured: the worker is halted (the step's up), its node goes
 * NotReady once its lease is older than the node monitor's grace period, its pods are evicted once their
 * toleration of that runs out, and their replacements run on the surviving worker.
 */
async function measureFailure(ctx: DrillContext, step: StepRecord, tolerationSeconds: number): Promise<void> {
  const halted = Date.now();
  const r = await ctx.ssh(lost, "true").catch(() => undefined);
  if (r?.code === 0) throw new Error(`${lost} still answers over SSH after its stop`);
  const onLost = (await workloadPods(ctx)).filter((p) => p.node === lost && !p.deleting);
  if (onLost.length === 0) throw new Error(`no workload pod ran on ${lost} to lose`);
  // Each moment as the cluster recorded it (the controllers' timestamps, whole seconds), not when this
  // drill's polling saw it: on a loaded machine the polling lags, the record does not.
  const notReadyAt = await waitFor(
    `node ${lost} NotReady`,
    (nodeMonitorGraceSeconds + 60) * 1000,
    async () => {
      const ready = await nodeReadyCondition(ctx, lost);
      return ready.status !== "True" ? ready.since : undefined;
    },
  );
  const lastRenew = Date.parse(
    await kubectlOk(ctx, ["get", "lease", "-n", "kube-node-lease", lost, "-o", "jsonpath={.spec.renewTime}"]),
  );
  const taints = await kubectlOk(ctx, ["get", "node", lost, "-o", "jsonpath={.spec.taints[*].key}"]);
  ctx.note(`node ${lost} NotReady, tainted ${[...new Set(taints.split(/\s+/))].join(", ")}`);
  const lostNames = new Set(onLost.map((p) => p.name));
  const evictedAt = await waitFor(
    `the ${onLost.length} pods on ${lost} marked for eviction`,
    (tolerationSeconds + 90) * 1000,
    async () => {
      const marked = (await workloadPods(ctx)).filter(
        (p) => lostNames.has(p.name) && p.deletedAt !== undefined,
      );
      return marked.length > 0 ? Math.min(...marked.map((p) => p.deletedAt!)) : undefined;
    },
  );
  const desired = await desiredReplicas(ctx);
  const movedAt = await waitFor(`all ${desired} replicas ready on ${kept}`, 120_000, async () => {
    const live = (await workloadPods(ctx)).filter((p) => !p.deleting && p.node !== lost);
    return live.length === desired && live.every((p) => p.ready && p.node === kept)
      ? Math.max(...live.map((p) => p.readySince ?? 0))
      : undefined;
  });
  ctx.note(`after the eviction: ${placement(await workloadPods(ctx))}`);
  const http = (ctx.samples(httpProbeName) as HttpSample[]).filter(
    (s) => s.start >= step.upStart && s.start <= movedAt,
  );
  if (http.length === 0) throw new Error("the HTTP probe recorded nothing during the failure");
  const failed = http.filter((s) => !s.ok);
  const errors = [...new Set(failed.map((s) => s.error))];
  if (errors.length > 0) ctx.note(`HTTP errors a client saw: ${errors.map((e) => `\`${e}\``).join("; ")}`);
  const before = http.filter((s) => s.start < notReadyAt);
  const after = http.filter((s) => s.start >= notReadyAt);
  const run = tolerationSeconds === defaultTolerationSeconds ? "defaults" : `tuned ${tolerationSeconds} s`;
  step.numbers = {
    [`${run}: host halt (the step's \`pulumi up\`)`]: seconds(halted - step.upStart),
    [`${run}: last node heartbeat (lease renewal) → node NotReady`]: seconds(notReadyAt - lastRenew),
    [`${run}: node NotReady → its pods marked for eviction`]: seconds(evictedAt - notReadyAt),
    [`${run}: node NotReady → every replica ready on ${kept}`]: seconds(movedAt - notReadyAt),
    [`${run}: HTTP requests failed, halt → NotReady`]: failedOf(before),
    [`${run}: HTTP requests failed, NotReady → replicas moved`]: failedOf(after),
    [`${run}: HTTP longest time without an answer`]: seconds(longestAckGap(http, step.upStart, movedAt)),
  };
}

function failureStep(tolerationSeconds: number): DrillStep {
  const tuned = tolerationSeconds !== defaultTolerationSeconds;
  return {
    title: `halt ${lost} (\`hostStates.${lost}: stopped\`), ${tuned ? `tolerations tuned to ${tolerationSeconds} s` : `Kubernetes' defaults (${defaultTolerationSeconds} s tolerations)`}: its pods are replaced on ${kept}`,
    set: { [`hostStates.${lost}`]: "stopped" },
    check: (ctx, step) => measureFailure(ctx, step, tolerationSeconds),
  };
}

function returnStep(last: boolean): DrillStep {
  return {
    title: `${lost} back (\`hostStates.${lost}: running\`): its node Ready again; the pods stay where they are`,
    set: { [`hostStates.${lost}`]: "running" },
    check: async (ctx, step) => {
      const readyAt = await waitFor(`node ${lost} Ready again`, 180_000, async () =>
        (await nodeReadyCondition(ctx, lost)).status === "True" ? Date.now() : undefined,
      );
      const pods = await workloadPods(ctx);
      const back = pods.filter((p) => p.node === lost && !p.deleting);
      ctx.note(
        `pods on ${lost} after it came back: ${back.length} (${placement(pods)}): nothing moves back by itself`,
      );
      step.numbers = {
        [`${last ? "tuned" : "defaults"}: up began → node ${lost} Ready again`]: seconds(
          readyAt - step.upStart,
        ),
      };
      if (last) {
        // Every write the API server acknowledged during both failures reads back.
        await expectApiWritesReadBack(ctx, run);
        await expectNoAcknowledgedWriteLost(ctx);
      }
    },
  };
}

export const workerFailure: Drill = {
  name,
  title: "Worker failure: a worker halted, its pods replaced on the other; Kubernetes' defaults, then tuned",
  writerIntervalMs: 1000,
  probes: () => [apiProbe(run, 250), httpProbe(100)],
  steps: () => [
    {
      title: `control plane on core-01, workers ${kept} and ${lost}; the pause and web Deployments spread over both`,
      set: {},
      check: async (ctx) => {
        const pods = await waitFor("every workload pod ready, web on both workers", 120_000, () =>
          spreadOverWorkers(ctx),
        );
        ctx.note(
          `\`kubectl get nodes\`: ${(await kubectlOk(ctx, ["get", "nodes", "--no-headers"]))
            .split("\n")
            .map((l) => l.split(/\s+/).slice(0, 3).join(" "))
            .join("; ")}`,
        );
        ctx.note(`placement: ${placement(pods)}`);
      },
    },
    failureStep(defaultTolerationSeconds),
    returnStep(false),
    {
      title: `tune the workloads' tolerations (\`workloadTolerationSeconds: ${tunedTolerationSeconds}\`): a rollout, which spreads the pods over both workers again`,
      set: { workloadTolerationSeconds: tunedTolerationSeconds },
      check: async (ctx) => {
        const pods = await waitFor("the rollout's pods ready, web on both workers", 180_000, () =>
          spreadOverWorkers(ctx),
        );
        const tolerations = await kubectlOk(ctx, [
          "get",
          "deployment",
          "web",
          "-o",
          'jsonpath={.spec.template.spec.tolerations[?(@.key=="node.kubernetes.io/unreachable")].tolerationSeconds}',
        ]);
        if (tolerations !== String(tunedTolerationSeconds))
          throw new Error(
            `web tolerates an unreachable node for ${tolerations} s, not ${tunedTolerationSeconds}`,
          );
        ctx.note(`placement after the rollout: ${placement(pods)}`);
      },
    },
    failureStep(tunedTolerationSeconds),
    returnStep(true),
  ],
};
