import { expectMembers } from "./checks";
import { checkRestored, clusterId, newTimeline, recoveryDrill, takeBackup, threeMembers } from "./recovery";

const t = newTimeline();

/** Bad data, good hosts: every member restored from the same snapshot, as a new cluster. */
export const restoreInPlace = recoveryDrill(
  "restore-in-place",
  "restore (in place): all members from one snapshot",
  [
    threeMembers(t),
    takeBackup(t, async (ctx) => {
      // The disaster: an operator deletes every key the writer wrote.
      await ctx.etcd.ok(["del", "--prefix", `/drill/${ctx.config.stack}/`]);
      t.failureAt = Date.now();
      ctx.note("disaster: `etcdctl del --prefix` of every key the writer wrote");
    }),
    {
      title: "restore every member in place from the snapshot, as a new cluster",
      set: () => ({ restore: { from: t.backupDir, method: "in-place" } }),
      check: async (ctx, step) => {
        await checkRestored(ctx, step, t, ["core-01", "core-02", "core-03"]);
        const id = await clusterId(ctx);
        if (id === t.clusterId) throw new Error("the restored cluster kept the old cluster's ID");
        ctx.note(`new cluster identity: cluster ID ${String(t.clusterId)} → ${id}`);
        await expectMembers(ctx, ["core-01", "core-02", "core-03"]);
      },
    },
  ],
);
