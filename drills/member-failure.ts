import {
  expectMembers,
  expectNoAcknowledgedWriteLost,
  expectPutGet,
  expectWritesDuring,
  memberHealth,
} from "./checks";
import type { Drill } from "./runner";

const name = "member-failure";
const all = ["core-01", "core-02", "core-03"];
let lostId: string | undefined;

/** The workshop's "destroy core-01, the cluster still serves", then a fresh core-01 takes its place. */
export const memberFailure: Drill = {
  name,
  title: "member failure: core-01 destroyed and replaced",
  writerIntervalMs: 100,
  steps: [
    {
      title: "three members",
      set: { etcdMembers: all },
      check: async (ctx) => {
        lostId = (await expectMembers(ctx, all)).get("core-01");
      },
    },
    {
      title: "destroy core-01",
      set: { "hostStates.core-01": "destroyed" },
      check: async (ctx, step) => {
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
        expectWritesDuring(ctx, step);
        await expectNoAcknowledgedWriteLost(ctx);
      },
    },
  ],
};
