// The etcd member-failure drill again, with the control plane on all three hosts and the API probe on: the
// workshop's "destroy core-01, the cluster still serves", asked of the API. etcd's leadership is moved to
// core-03 first, so the member lost is the leader; core-03 is also a control-plane host. The API probe
// writes through the virtual IP (held by core-01) every 100 ms. core-03 is destroyed (the member listed,
// unhealthy, quorum 2 of 3), then a fresh core-03 replaces it: a new member, its API server, its node.
import {
  etcdLeader,
  expectMembers,
  expectNoAcknowledgedWriteLost,
  expectPutGet,
  longestAckGap,
  memberHealth,
} from "./checks";
import {
  apiSamples,
  expectApiWritesReadBack,
  expectPodDeletionCompletes,
  kubectlOk,
  nodeReadiness,
  virtualIpHolders,
} from "./kubernetes";
import { apiProbe } from "./probes";
import { keepalivedUnitName, kubeletUnitName, kubeProxyUnitName } from "../components/kubernetes/facts";
import { shellCommand } from "../components/host/shell";
import type { StepRecord } from "./report";
import type { Drill, DrillContext } from "./runner";

const name = "api-member-failure";
const lost = "core-03";
const all = ["core-01", "core-02", "core-03"];
const run = `member-${Date.now().toString(36)}`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A client's call to the API fails after this long (the API probe's own bound). */
const callBoundMs = 10_000;

/**
 * The API as a client of the virtual IP saw it from the step's start until now: the longest time without
 * an acknowledged write and the calls that failed. The drill's claim, checked: the API stayed available,
 * no stretch without an acknowledged write as long as a client's call bound. (A write in flight when
 * etcd's leader goes may fail with "leader changed": the client retries it, as controllers do.)
 */
function expectApiAvailable(ctx: DrillContext, step: StepRecord, how: string): void {
  const now = Date.now();
  const api = apiSamples(ctx).filter((s) => s.start >= step.upStart && s.end <= now);
  if (api.length === 0) throw new Error("the API probe recorded nothing during the step");
  const failed = api.filter((s) => !s.ok);
  const gap = longestAckGap(api, step.upStart, now);
  step.numbers = {
    ...step.numbers,
    [`${how}: longest time without an acknowledged API write (virtual IP)`]: seconds(gap),
    [`${how}: API calls failed`]: `${failed.length} of ${api.length}`,
  };
  const errors = [...new Set(failed.map((s) => s.error))].map((e) => `\`${e}\``).join("; ");
  if (gap >= callBoundMs)
    throw new Error(
      `the API acknowledged no write for ${seconds(gap)} while ${how} (errors: ${errors || "none"})`,
    );
  ctx.note(
    `the API stayed available: ${api.length - failed.length} of ${api.length} calls acknowledged, the longest gap ${seconds(gap)}${errors ? `; errors: ${errors}` : ""}`,
  );
}

export const apiMemberFailure: Drill = {
  name,
  title: "member failure under the API: etcd's leader and a control-plane host destroyed, then replaced",
  writerIntervalMs: 250,
  probes: () => [apiProbe(run, 100)],
  steps: () => {
    /** The lost host's etcd member ID before it was destroyed: the fresh host's must differ. */
    let lostMember: string | undefined;
    return [
      {
        title: `three etcd members and three control-plane hosts behind the virtual IP; etcd's leader moved to ${lost}`,
        set: {},
        check: async (ctx) => {
          const ids = await expectMembers(ctx, all);
          lostMember = ids.get(lost);
          const before = await etcdLeader(ctx);
          if (before.name !== lost) {
            // The leader hands over to the named member (etcd's own transfer, no election timeout).
            await ctx.etcd.ok(["move-leader", lostMember!], [before.endpoint]);
          }
          const leader = await etcdLeader(ctx);
          if (leader.name !== lost) throw new Error(`etcd's leader is ${leader.name}, not ${lost}`);
          ctx.note(
            `etcd's leader: ${lost}${before.name === lost ? "" : ` (\`etcdctl move-leader\` from ${before.name})`}; the virtual IP on ${(await virtualIpHolders(ctx)).join(", ")}`,
          );
        },
      },
      {
        title: `destroy ${lost}: etcd's leader, a control-plane host (\`hostStates.${lost}: destroyed\`)`,
        set: { [`hostStates.${lost}`]: "destroyed" },
        check: async (ctx, step) => {
          const { list, healthy } = await memberHealth(ctx);
          if (list.length !== 3 || healthy !== 2)
            throw new Error(`expected 3 members with 2 healthy, saw ${list.length} / ${healthy}`);
          ctx.note(`etcdctl: 3 members listed, 2 healthy: ${lost} is gone, quorum (2 of 3) holds`);
          const leader = await etcdLeader(ctx);
          ctx.note(`etcd's leader now: ${leader.name}`);
          await expectPutGet(ctx, `${name}-degraded`);
          expectApiAvailable(ctx, step, `${lost} destroyed`);
        },
      },
      {
        title: `a fresh ${lost} replaces it (\`hostStates.${lost}: running\`): a new etcd member, its control plane, its node`,
        set: { [`hostStates.${lost}`]: "running" },
        check: async (ctx, step) => {
          const ids = await expectMembers(ctx, all);
          const id = ids.get(lost);
          if (!id || id === lostMember)
            throw new Error(`${lost} should be a new member, its ID is still ${String(id)}`);
          // Running on the fresh host once the update is done (nothing of the old host's undone on it).
          const units = [kubeletUnitName, kubeProxyUnitName, keepalivedUnitName];
          const active = await ctx.ssh(lost, shellCommand("systemctl", "is-active", ...units));
          if (active.code !== 0)
            throw new Error(
              `on the fresh ${lost}, ${units.join(", ")}: ${active.stdout.trim().split("\n").join(", ")}`,
            );
          const apiserver = await ctx.ssh(
            lost,
            shellCommand("crictl", "ps", "--name", "^kube-apiserver$", "-q"),
          );
          if (apiserver.stdout.trim() === "")
            throw new Error(`no kube-apiserver container runs on the fresh ${lost}`);
          ctx.note(`on the fresh ${lost}: ${units.join(", ")} active, its kube-apiserver container running`);
          const ready = (await nodeReadiness(ctx)).get(lost);
          if (ready?.status !== "True") throw new Error(`node ${lost} is ${ready?.status ?? "missing"}`);
          const phase = await kubectlOk(ctx, [
            "get",
            "pod",
            "-n",
            "kube-system",
            `kube-apiserver-${lost}`,
            "-o",
            "jsonpath={.status.phase}",
          ]);
          if (phase !== "Running") throw new Error(`kube-apiserver-${lost} is ${phase || "missing"}`);
          ctx.note(
            `${lost} is a new etcd member (ID ${String(lostMember)} → ${id}), its API server Running, its node Ready`,
          );
          // Every kubelet still hears of deletions through its API server (etcd's watch streams moved off the
          // lost member): a pod deleted now goes.
          const deleted = await expectPodDeletionCompletes(ctx, "kube-system", "k8s-app=kube-dns");
          ctx.note(`\`kubectl delete -n kube-system ${deleted}\` completes: its kubelet saw the deletion`);
          expectApiAvailable(ctx, step, `${lost} replaced`);
        },
      },
      {
        title: "nothing lost: every API write and etcd write acknowledged during the drill reads back",
        set: {},
        check: async (ctx) => {
          await expectApiWritesReadBack(ctx, run);
          await expectNoAcknowledgedWriteLost(ctx);
        },
      },
    ];
  },
};
