// The workshop's "High-Availability of Scheduler/Controller-Manager": it moved the podmaster's manifests
// off core-01 and watched core-02 take over. Today leader election does it with Lease objects: the
// control plane is taken off the host whose controller manager and scheduler lead (a config change; the
// host stays a worker), and the others take the Leases once the leader's have run out. Run with
// Kubernetes' default timings and with tuned ones; a pod created every two seconds shows how long
// the cluster could not schedule.
import { defaultLeaderElection } from "../config";
import type { LeaderElection } from "../config";
import { expectNoAcknowledgedWriteLost, waitFor } from "./checks";
import {
  controlPlaneLeases,
  expectApiWritesReadBack,
  kubectlOk,
  leaseHolders,
  readLease,
} from "./kubernetes";
import type { LeaseView } from "./kubernetes";
import { apiProbe } from "./probes";
import type { StepRecord } from "./report";
import type { Drill, DrillContext, DrillStep } from "./runner";
import { imageRefs } from "../components/runtime/images";
import { shellCommand } from "../components/host/shell";

const name = "leader-failover";
const all = ["core-01", "core-02", "core-03"];
const run = `leader-${Date.now().toString(36)}`;
const leases = controlPlaneLeases;
/** Tuned for the lab's network: a silent leader is replaced in about 4 s instead of 15. */
export const tunedLeaderElection: LeaderElection = { leaseDuration: 4, renewDeadline: 3, retryPeriod: 1 };
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const podLabel = "real-world-kubernetes/leader-drill";
/** How often a probe pod is created during a failover step (each one a sandbox on some node). */
const podIntervalMs = 2000;

/**
 * What runs beside the step's update: both Leases read every 250 ms (the old holder's last renewal is
 * gone once another takes over), and a pod created every two seconds (the cluster's own timestamps say
 * when each was scheduled).
 */
class Watch {
  private stopped = false;
  /** This step's pods: the label value that finds them. */
  readonly tag: string;
  readonly seen: Record<string, LeaseView[]> = {};
  private done: Promise<unknown>;
  private pods = 0;

  constructor(
    private readonly ctx: DrillContext,
    step: string,
  ) {
    this.tag = `${run}-${step}`;
    for (const l of leases) this.seen[l] = [];
    this.done = Promise.all([this.pollLeases(), this.createPods()]);
  }

  private async pollLeases(): Promise<void> {
    while (!this.stopped) {
      const holders = await leaseHolders(this.ctx).catch(() => undefined);
      for (const l of leases) if (holders) this.seen[l]!.push(holders[l]);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async createPods(): Promise<void> {
    const image = imageRefs(this.ctx.config.kubernetes.version).pause;
    while (!this.stopped) {
      const pod = `leader-probe-${this.tag}-${String(this.pods++).padStart(4, "0")}`;
      await this.ctx
        .kubectl(
          ["run", pod, `--image=${image}`, `--labels=${podLabel}=${this.tag}`, "--restart=Never"],
          10_000,
        )
        .catch(() => undefined);
      await new Promise((r) => setTimeout(r, podIntervalMs));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** Each of the run's probe pods: created, and scheduled (its PodScheduled condition), ms. */
async function probePods(ctx: DrillContext, tag: string): Promise<{ created: number; scheduled?: number }[]> {
  const out = await kubectlOk(ctx, ["get", "pods", "-l", `${podLabel}=${tag}`, "-o", "json"]);
  const list = JSON.parse(out) as {
    items: {
      metadata: { creationTimestamp: string };
      status: { conditions?: { type: string; status: string; lastTransitionTime?: string }[] };
    }[];
  };
  return list.items.map((p) => {
    const c = p.status.conditions?.find((x) => x.type === "PodScheduled" && x.status === "True");
    return {
      created: Date.parse(p.metadata.creationTimestamp),
      ...(c?.lastTransitionTime ? { scheduled: Date.parse(c.lastTransitionTime) } : {}),
    };
  });
}

function failoverStep(
  from: string,
  keep: string[],
  timings: LeaderElection,
  label: string,
  tag: string,
): DrillStep {
  let watch: Watch | undefined;
  return {
    title: `take the control plane off ${from}, whose controller manager and scheduler lead (\`controlPlane: [${keep.join(", ")}]\`; ${label})`,
    set: (previous) => {
      watch = new Watch(previous, tag);
      return { controlPlane: keep };
    },
    check: async (ctx, step: StepRecord) => {
      const numbers: Record<string, string> = {};
      for (const l of leases) {
        // The new holder, on a host that kept the control plane, and when it took the Lease.
        // (A leader that stops cleanly may release the Lease first: an empty holder is nobody yet.)
        const now = await waitFor(`a new holder of ${l}`, 120_000, async () => {
          const v = await readLease(ctx, l);
          return v.holder !== "" && !v.holder.startsWith(`${from}_`) ? v : undefined;
        });
        const old = watch!.seen[l]!.filter((v) => v.holder.startsWith(`${from}_`));
        const lastRenew = Math.max(...old.map((v) => v.renewed));
        if (!Number.isFinite(lastRenew)) throw new Error(`${l}'s Lease was never seen held on ${from}`);
        numbers[`${label}: ${l}, old leader's last renewal → new leader`] = seconds(now.acquired - lastRenew);
        ctx.note(
          `${l}: ${now.holder.replace(/_.*$/, "")} leads now (lease duration ${timings.leaseDuration} s, renew deadline ${timings.renewDeadline} s, retry period ${timings.retryPeriod} s)`,
        );
      }
      // A pod created after the failover is scheduled at once: the run's last ones show the scheduler works.
      await waitFor("a probe pod created after the failover scheduled", 60_000, async () => {
        const pods = await probePods(ctx, watch!.tag);
        return pods.some((p) => p.created > step.upStart && p.scheduled !== undefined) ? true : undefined;
      });
      await watch!.stop();
      const pods = await waitFor("every probe pod scheduled", 120_000, async () => {
        const p = await probePods(ctx, watch!.tag);
        return p.every((x) => x.scheduled !== undefined) ? p : undefined;
      });
      const waits = pods.map((p) => p.scheduled! - p.created);
      numbers[`${label}: longest wait of a pod created meanwhile to be scheduled`] = seconds(
        Math.max(...waits),
      );
      numbers[`${label}: pods created during the step`] = String(pods.length);
      step.numbers = { ...step.numbers, ...numbers };
      await kubectlOk(ctx, [
        "delete",
        "pods",
        "-l",
        `${podLabel}=${watch!.tag}`,
        "--wait=false",
        "--ignore-not-found",
      ]);
    },
  };
}

/**
 * Both Leases held on `host`: a leader elsewhere is stopped (its kubelet starts it again) and hands its
 * Lease on once it runs out, until `host`'s components hold both. Where the Leases are after a start is a
 * race (a leader that misses its renew deadline on a busy machine restarts and loses them).
 */
async function leasesTo(ctx: DrillContext, host: string, leaseDuration: number): Promise<void> {
  const moved: string[] = [];
  await waitFor(`both Leases held on ${host}`, 180_000, async () => {
    const holders = await leaseHolders(ctx);
    const elsewhere = leases.filter((l) => holders[l].host !== host);
    if (elsewhere.length === 0) return true;
    for (const l of elsewhere) {
      const at = holders[l].host;
      await ctx.ssh(
        at,
        `${shellCommand("crictl", "ps", "--name", `^${l}$`, "-q")} | xargs -r crictl stop >/dev/null`,
      );
      moved.push(`${l} on ${at}`);
    }
    await new Promise((r) => setTimeout(r, 2 * leaseDuration * 1000));
    return undefined;
  });
  ctx.note(
    `both Leases held on ${host}${moved.length > 0 ? ` (leaders stopped elsewhere: ${moved.join(", ")})` : ""}`,
  );
}

export const leaderFailover: Drill = {
  name,
  title: "Leader failover: the control plane taken off the host whose controller manager and scheduler lead",
  writerIntervalMs: 1000,
  probes: () => [apiProbe(run, 250)],
  steps: () => [
    {
      title: "the control plane on all three hosts, every host a worker too; both Leases brought to core-01",
      set: {},
      check: (ctx) => leasesTo(ctx, "core-01", defaultLeaderElection.leaseDuration),
    },
    failoverStep(
      "core-01",
      ["core-02", "core-03"],
      defaultLeaderElection,
      "defaults (15 s lease)",
      "defaults",
    ),
    {
      title: `core-01 back in the control plane and tuned Lease timings (\`leaderElection: ${JSON.stringify(tunedLeaderElection)}\`); both Leases brought to core-01`,
      set: { controlPlane: all, leaderElection: tunedLeaderElection },
      // The controller managers and schedulers restarted with the new timings, one host at a time.
      check: (ctx) => leasesTo(ctx, "core-01", tunedLeaderElection.leaseDuration),
    },
    failoverStep("core-01", ["core-02", "core-03"], tunedLeaderElection, "tuned (4 s lease)", "tuned"),
    {
      title: "nothing lost: every API write and etcd write acknowledged during the drill reads back",
      set: {},
      check: async (ctx) => {
        await expectApiWritesReadBack(ctx, run);
        await expectNoAcknowledgedWriteLost(ctx);
      },
    },
  ],
};
