import * as path from "path";
import { paths, unit } from "../components/etcd/facts";
import { expectMembers } from "./checks";
import { checkRestored, destroyAll, recoveryDrill, regrow, takeBackup, threeMembers } from "./recovery";
import type { DrillContext } from "./runner";

/** After the restore, nothing would start etcd with force-new-cluster again. */
async function expectForceNewClusterRemoved(ctx: DrillContext): Promise<void> {
  const r = await ctx.ssh(
    "core-01",
    `ls ${path.dirname(paths.forceNewDropin)}/ 2>/dev/null; systemctl show ${unit} -p Environment`,
  );
  if (r.code !== 0 || r.stdout.includes("force-new-cluster") || r.stdout.includes("FORCE_NEW")) {
    throw new Error(
      `force-new-cluster is still configured on core-01 (exit ${r.code}): ${r.stdout}${r.stderr}`,
    );
  }
  ctx.note("the one-shot force-new-cluster drop-in is gone: etcd's next start would not have it");
}

/** The running etcd itself started without force-new-cluster (after a restart). */
async function expectRunningWithoutForceNewCluster(ctx: DrillContext): Promise<void> {
  const r = await ctx.ssh("core-01", "set -o pipefail; tr '\\0' '\\n' </proc/$(pidof etcd)/environ");
  if (r.code !== 0 || !r.stdout.includes("ETCD_NAME=core-01") || r.stdout.includes("FORCE_NEW_CLUSTER")) {
    throw new Error(
      `the running etcd still has force-new-cluster, or cannot be checked (exit ${r.code}): ${r.stderr}`,
    );
  }
  ctx.note("the restarted etcd runs without force-new-cluster (checked in /proc/<pid>/environ)");
}

/** The workshop's recovery: the data-dir archive on a fresh host, started once with force-new-cluster. */
export const restoreClassic = recoveryDrill(
  "restore-classic",
  "restore (classic): data-dir archive + force-new-cluster",
  (t) => [
    threeMembers(t),
    takeBackup(t),
    destroyAll(t),
    {
      title: "restore the archive on a fresh core-01 with a one-shot force-new-cluster drop-in",
      set: () => ({ "hostStates.core-01": "running", restore: { from: t.backupDir, method: "classic" } }),
      check: async (ctx, step) => {
        await checkRestored(ctx, step, t, ["core-01"]);
        await expectForceNewClusterRemoved(ctx);
      },
    },
    regrow(t, false),
    {
      title: "restart etcd on core-01: membership stays intact (the flag is really gone)",
      set: {},
      check: async (ctx) => {
        const r = await ctx.ssh("core-01", "/usr/local/sbin/rwk-etcd restart --name core-01");
        if (r.code !== 0) throw new Error(`restart failed: ${r.stderr}`);
        ctx.note("etcd on core-01 restarted (`rwk-etcd restart`)");
        await expectRunningWithoutForceNewCluster(ctx);
        await expectMembers(ctx, ["core-01", "core-02", "core-03"]);
      },
    },
  ],
);
