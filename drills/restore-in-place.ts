import * as fs from "fs";
import { expectMembers } from "./checks";
import { paths } from "../components/etcd/facts";
import { shellCommand } from "../components/host/shell";
import { checkRestored, clusterId, recoveryDrill, takeBackup, threeMembers } from "./recovery";

/** Bad data, good hosts: every member restored from the same snapshot, as a new cluster. */
export const restoreInPlace = recoveryDrill(
  "restore-in-place",
  "restore (in place): all members from one snapshot",
  (t) => [
    threeMembers(t),
    takeBackup(t, async (ctx) => {
      // The disaster: an operator deletes every key the writer wrote.
      await ctx.etcd.ok(["del", "--prefix", ctx.writePrefix]);
      t.failureAt = Date.now();
      ctx.note("disaster: `etcdctl del --prefix` of every key the writer wrote");
    }),
    {
      title: "a backup directory whose name is shell code: refused at preview, nothing runs",
      set: () => {
        const evil = `${t.backupDir}-b1;touch x;#`;
        fs.rmSync(evil, { recursive: true, force: true });
        fs.cpSync(t.backupDir, evil, { recursive: true });
        return { restore: { from: evil, method: "in-place" } };
      },
      expectUpError:
        /restore\.from: ".*b1;touch x;#" must be a backup directory relative to the project root/,
      check: async (ctx) => {
        const r = await ctx.ssh("core-01", `ls -a /root / ${paths.restores} 2>&1`);
        if (/^x$/m.test(r.stdout)) throw new Error(`a file x appeared on core-01: ${r.stdout}`);
        ctx.note("no file `x` on core-01: the name never reached a shell");
      },
    },
    {
      title: "an in-place restore without allowDataLoss: refused at preview, nothing changes",
      set: () => ({ restore: { from: t.backupDir, method: "in-place" } }),
      expectUpError: /restore\.method: in-place replaces the running cluster's data .*:allowDataLoss to "/,
      check: async (ctx) => {
        const id = await clusterId(ctx);
        if (id !== t.clusterId) throw new Error(`the refused restore changed the cluster: ${id}`);
        ctx.note(`the cluster is the same one (ID ${id}): nothing was restored`);
      },
    },
    {
      title: "restore every member in place from the snapshot, as a new cluster",
      set: (previous) => ({
        restore: { from: t.backupDir, method: "in-place" },
        allowDataLoss: previous.config.stack,
      }),
      check: async (ctx, step) => {
        await checkRestored(ctx, step, t, ["core-01", "core-02", "core-03"]);
        const id = await clusterId(ctx);
        if (id === t.clusterId) throw new Error("the restored cluster kept the old cluster's ID");
        ctx.note(`new cluster identity: cluster ID ${String(t.clusterId)} → ${id}`);
        await expectMembers(ctx, ["core-01", "core-02", "core-03"]);
        // A restore step that did not restore fails: starting a restore that was never prepared is refused.
        const r = await ctx.ssh(
          "core-01",
          shellCommand(paths.script, "restore-start", "--cluster-token", "never-prepared"),
        );
        if (r.code === 0 || !r.stderr.includes("restore never-prepared was not prepared on this host"))
          throw new Error(`an unprepared restore-start was not refused (exit ${r.code}): ${r.stderr}`);
        ctx.note(
          `a restore that was never prepared is refused: \`${r.stderr.trim().split("\n").pop() ?? ""}\``,
        );
      },
    },
  ],
);
