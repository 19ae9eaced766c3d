import {
  crashLeader,
  expectMembers,
  expectNoAcknowledgedWriteLost,
  expectOutput,
  expectPutGet,
  expectWritesDuring,
  memberHealth,
} from "./checks";
import type { Drill, DrillStep } from "./runner";
import { paths } from "../components/etcd/facts";
import { shellCommand } from "../components/host/shell";

const name = "member-failure";
const all = ["core-01", "core-02", "core-03"];
const survivors = ["core-02", "core-03"];
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
/** Tuned for the lab's network (sub-millisecond round trips): twice as fast as etcd's defaults. */
const tuned = { etcdHeartbeatInterval: 50, etcdElectionTimeout: 500 };

/** The leader's host crashes, then `pulumi refresh` notices and `pulumi up` brings it back. */
function leaderCrash(timings: string): DrillStep[] {
  return [
    {
      title: `crash the leader's host (${timings})`,
      set: {},
      check: async (ctx, step) => {
        const f = await crashLeader(ctx);
        step.numbers = {
          [`${timings}: new leader after the leader's host crashed`]: seconds(f.newLeaderMs),
          [`${timings}: longest time without an acknowledged write`]: seconds(f.writeGapMs),
        };
      },
    },
    {
      title: "`pulumi refresh` reads the crashed host as stopped; `pulumi up` brings it back",
      set: {},
      refresh: true,
      check: async (ctx) => {
        await expectMembers(ctx, all);
        await expectNoAcknowledgedWriteLost(ctx);
      },
    },
  ];
}

/**
 * The workshop's "destroy core-01, the cluster still serves", and what follows: a fresh core-01 takes the
 * dead member's place; core-01 gone for good is removed through the survivors, and the set grows back on
 * a fresh host. Before that, the hardest single failure (the leader's host crashes) with etcd's default
 * timings and with tuned ones.
 */
export const memberFailure: Drill = {
  name,
  title: "member failure: the leader crashes; core-01 destroyed, replaced, removed, re-added",
  writerIntervalMs: 100,
  steps: () => {
    // core-01's member ID before it is lost: the one that comes back must have a new one.
    let lostId: string | undefined;
    return [
      {
        title: "three members",
        set: { etcdMembers: all },
        check: async (ctx) => {
          await expectMembers(ctx, all);
        },
      },
      ...leaderCrash("etcd's defaults (heartbeat 100 ms, election timeout 1000 ms)"),
      {
        title: "tune etcd's timings: heartbeat 50 ms, election timeout 500 ms (a rolling restart)",
        set: tuned,
        check: async (ctx) => {
          await expectMembers(ctx, all);
          const env = await ctx.ssh(
            "core-01",
            shellCommand("grep", "-E", "^ETCD_(HEARTBEAT|ELECTION)", paths.env),
          );
          if (
            !env.stdout.includes("ETCD_ELECTION_TIMEOUT=500") ||
            !env.stdout.includes("ETCD_HEARTBEAT_INTERVAL=50")
          )
            throw new Error(`the member's settings do not show the tuned timings: ${env.stdout}`);
          ctx.note("the members run with ETCD_HEARTBEAT_INTERVAL=50 and ETCD_ELECTION_TIMEOUT=500");
        },
      },
      ...leaderCrash("tuned (heartbeat 50 ms, election timeout 500 ms)"),
      {
        title: "destroy core-01",
        set: { "hostStates.core-01": "destroyed" },
        check: async (ctx, step) => {
          lostId = (await ctx.etcd.memberList()).find((m) => m.name === "core-01")?.id;
          const { list, healthy } = await memberHealth(ctx);
          if (list.length !== 3 || healthy !== 2)
            throw new Error(`expected 3 members with 2 healthy, saw ${list.length} / ${healthy}`);
          ctx.note("etcdctl: 3 members listed, 2 healthy: core-01 is gone, quorum (2 of 3) holds");
          await expectPutGet(ctx, `${name}-degraded`);
          expectWritesDuring(ctx, step);
        },
      },
      {
        title: "try to remove healthy core-02 while core-01 is down: refused",
        set: { etcdMembers: ["core-01", "core-03"] },
        expectUpError:
          /refusing to remove core-02: the 2 remaining voting members would have 1 healthy, below quorum 2/,
        check: async (ctx) => {
          const list = await ctx.etcd.memberList();
          if (list.length !== 3)
            throw new Error(
              `the refused removal changed the member list: ${list.map((m) => m.name).join(", ")}`,
            );
          ctx.note("etcdctl: still 3 members: the refused change changed nothing");
        },
      },
      {
        title: "bring a fresh core-01 back as a replacement member",
        set: { "hostStates.core-01": "running", etcdMembers: all },
        check: async (ctx, step) => {
          const ids = await expectMembers(ctx, all);
          const newId = ids.get("core-01");
          if (!newId || newId === lostId)
            throw new Error(`core-01 should be a new member, its ID is still ${String(newId)}`);
          ctx.note(`core-01 is a new member: ID ${String(lostId)} → ${newId}`);
          lostId = newId;
          expectWritesDuring(ctx, step);
          await expectNoAcknowledgedWriteLost(ctx);
        },
      },
      {
        title: "destroy core-01 again",
        set: { "hostStates.core-01": "destroyed" },
        check: async (ctx) => {
          await expectPutGet(ctx, `${name}-degraded-again`);
        },
      },
      {
        title: "core-01 is gone for good: shrink to two members, removed through the survivors",
        set: { etcdMembers: survivors },
        check: async (ctx, step) => {
          expectOutput(
            ctx,
            step,
            /removing it through the other members/,
            "the removal through the survivors",
          );
          await expectMembers(ctx, survivors);
          await expectNoAcknowledgedWriteLost(ctx);
        },
      },
      {
        title: "grow back to three on a fresh core-01",
        set: { "hostStates.core-01": "running", etcdMembers: [...survivors, "core-01"] },
        check: async (ctx, step) => {
          const ids = await expectMembers(ctx, all);
          const newId = ids.get("core-01");
          if (!newId || newId === lostId)
            throw new Error(`core-01 should be a new member, its ID is still ${String(newId)}`);
          ctx.note(`core-01 joined again as a new member: ID ${String(lostId)} → ${newId}`);
          expectWritesDuring(ctx, step);
          await expectNoAcknowledgedWriteLost(ctx);
        },
      },
    ];
  },
};
