// The workshop's empty "Upgrading" section, for etcd: three members at 3.5 rolled to 3.6 by a config
// change (each member restarts on the new release in turn, the next once the cluster is healthy again),
// with the writer on; then the way back refused before anything changes (etcd's data carries the cluster
// version: a 3.5 member refuses 3.6 data).
import {
  expectMembers,
  expectNoAcknowledgedWriteLost,
  expectPutGet,
  expectWritesDuring,
  longestAckGap,
} from "./checks";
import type { Drill, DrillContext } from "./runner";

const name = "etcd-upgrade";
const all = ["core-01", "core-02", "core-03"];
const from = "3.5.35";
const to = "3.6.16";

/** Every member answers as running `version` (etcdctl endpoint status, member by member). */
async function expectVersion(ctx: DrillContext, version: string): Promise<void> {
  const status = await ctx.etcd.status();
  const versions = status.map((s) => `${s.endpoint} ${s.version}`);
  if (status.length !== all.length || status.some((s) => s.version !== version))
    throw new Error(
      `expected every member at etcd ${version}, etcdctl endpoint status: ${versions.join(", ")}`,
    );
  ctx.note(`etcdctl endpoint status: all ${status.length} members run etcd ${version}`);
}

export const etcdUpgrade: Drill = {
  name,
  title: `etcd upgrade ${from} → ${to}, rolling, and the way back refused`,
  writerIntervalMs: 100,
  steps: () => [
    {
      title: `three members at etcd ${from}`,
      set: {},
      check: async (ctx) => {
        await expectMembers(ctx, all);
        await expectVersion(ctx, from);
      },
    },
    {
      title: `upgrade to etcd ${to} (\`etcdVersion: ${to}\`): one member at a time`,
      set: { etcdVersion: to },
      check: async (ctx, step) => {
        await expectMembers(ctx, all);
        await expectVersion(ctx, to);
        await expectPutGet(ctx, `${name}-upgraded`);
        expectWritesDuring(ctx, step);
        const during = ctx.writes().filter((w) => w.start >= step.upStart && w.end <= step.upEnd);
        step.numbers = {
          "writes failed during the roll": `${during.filter((w) => !w.ok).length} of ${during.length}`,
          "longest time without an acknowledged write": `${(longestAckGap(during, step.upStart, step.upEnd) / 1000).toFixed(2)} s`,
        };
        await expectNoAcknowledgedWriteLost(ctx);
      },
    },
    {
      title: `back to etcd ${from}: refused at preview, nothing changed`,
      set: { etcdVersion: from },
      expectUpError: /etcdVersion: 3\.6\.16 → 3\.5\.35 goes back a minor version \(3\.6 → 3\.5\)/,
      check: async (ctx) => {
        await expectMembers(ctx, all);
        await expectVersion(ctx, to);
        await expectNoAcknowledgedWriteLost(ctx);
      },
    },
  ],
};
