// The three restore drills share one story: the workshop's writer, a backup, a disaster, a restore, and
// the proof on data — every write acknowledged before the backup is back; later ones are expectedly lost.
import * as fs from "fs";
import * as path from "path";
import { expectMembers } from "./checks";
import { driverScript, run } from "../workstation/lab";
import type { BackupManifest } from "../components/recovery/restore";
import type { Drill, DrillContext, DrillStep } from "./runner";
import type { StepRecord } from "./report";
import { headerClusterId, type WriteRecord } from "./writer";

const all = ["core-01", "core-02", "core-03"];

/** What the drill learns as it goes. */
export interface RecoveryTimeline {
  backupAt: number;
  failureAt: number;
  backupDir: string;
  clusterId?: string;
}

export function newTimeline(): RecoveryTimeline {
  return { backupAt: 0, failureAt: 0, backupDir: "" };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function threeMembers(t: RecoveryTimeline): DrillStep {
  return {
    title: "three members, the writer putting the time every second",
    set: { etcdMembers: all },
    check: async (ctx) => {
      await expectMembers(ctx, all);
      t.clusterId = await clusterId(ctx);
    },
  };
}

/** Takes a backup by config (a new backup id) and checks what was pulled to the workstation. */
export function takeBackup(t: RecoveryTimeline, after?: (ctx: DrillContext) => Promise<void>): DrillStep {
  return {
    title: "take a backup (snapshot + data-dir archive), pulled to the workstation",
    set: { backup: { id: "b1", member: "core-01" } },
    check: async (ctx, step) => {
      const manifest = JSON.parse(String(ctx.outputs["backupManifest"])) as BackupManifest;
      t.backupDir = String(ctx.outputs["backupDirectory"]);
      t.backupAt = Date.parse(manifest.takenAt);
      if (!(manifest.status.revision > 0))
        throw new Error(`the snapshot's status is wrong: ${JSON.stringify(manifest.status)}`);
      ctx.note(
        `backup ${manifest.id} of ${manifest.member} at ${manifest.takenAt}: snapshot revision ${manifest.status.revision}, ` +
          `${manifest.status.totalKey} keys (\`etcdctl snapshot status\`); data-dir archive made ${manifest.dataDirFrom === "snapshot" ? "from the snapshot (one member: stopping it would stop the cluster)" : manifest.dataDirConsistent ? "with the member stopped" : "live"}; pulled to \`${t.backupDir}/\` and checked against the manifest's sha256`,
      );
      step.numbers = { "backup taken at": manifest.takenAt };
      // Let some acknowledged writes land after the backup: they are what a restore loses (the RPO).
      await new Promise((r) => setTimeout(r, 4000));
      if (after) await after(ctx);
    },
  };
}

export function destroyAll(t: RecoveryTimeline): DrillStep {
  return {
    title: "disaster: all three hosts destroyed (allowDataLoss names the stack)",
    // Destroying every member's host loses the cluster for good: the stack must say it means it.
    set: (previous) => ({
      hostStates: { "core-01": "destroyed", "core-02": "destroyed", "core-03": "destroyed" },
      allowDataLoss: previous.config.stack,
    }),
    check: async (ctx, step) => {
      const r = await ctx.etcd.exec(["put", "/drill/check/after-disaster", "x"]);
      if (r.code === 0) throw new Error("a put succeeded with every host destroyed");
      t.failureAt = firstFailure(ctx, step) ?? step.upEnd;
      ctx.note(`writes fail: \`${r.stderr.trim().split("\n").pop() ?? ""}\``);
    },
  };
}

function firstFailure(ctx: DrillContext, step: StepRecord): number | undefined {
  return ctx
    .writes()
    .filter((w) => !w.ok && w.start >= step.upStart)
    .sort((a, b) => a.start - b.start)[0]?.start;
}

/**
 * The restored cluster's first acknowledged write, told apart by the cluster ID in the put's response: an
 * in-place restore stops the old cluster only after copying the backup, and until then the old cluster
 * still acknowledges writes that the restore then takes back. A classic restore keeps the cluster's ID,
 * but there the old cluster is gone before the restore starts.
 */
function firstRecovered(ctx: DrillContext, step: StepRecord, current: string) {
  const window = ctx.writes().filter((w) => w.start >= step.upStart);
  const byEnd = window.filter((w) => w.ok).sort((a, b) => a.end - b.end);
  const recovered = byEnd.find((w) => w.cluster === current);
  // No write acknowledged between this and `recovered`: the outage as the writer saw it.
  const lastBefore = recovered
    ? byEnd.filter((w) => w.end < recovered.end && w.cluster !== current).pop()
    : undefined;
  const outageStart = lastBefore?.end ?? firstFailure(ctx, step);
  return { recovered, outageStart };
}

/** After a restore: the data check, the expectedly lost writes, RPO and RTO. */
export async function checkRestored(
  ctx: DrillContext,
  step: StepRecord,
  t: RecoveryTimeline,
  members: string[],
): Promise<void> {
  await expectMembers(ctx, members);
  const current = await clusterId(ctx);
  // Give the writer a moment to be acknowledged by the restored cluster.
  const deadline = Date.now() + 30_000;
  let found = firstRecovered(ctx, step, current);
  while (!found.recovered && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    found = firstRecovered(ctx, step, current);
  }
  const { recovered, outageStart } = found;
  if (!recovered) throw new Error(`no write was acknowledged by the restored cluster (ID ${current})`);
  const present = await ctx.etcd.keys(ctx.writePrefix);
  const acked = ctx.writes().filter((w) => w.ok);
  const before = acked.filter((w) => w.end < t.backupAt);
  const missing = before.filter((w) => !present.has(w.key));
  if (missing.length > 0) {
    throw new Error(
      `${missing.length} writes acknowledged before the backup are missing, first ${missing[0]!.key}`,
    );
  }
  ctx.note(`all ${before.length} writes acknowledged before the backup are present`);
  // Acknowledged after the backup by the cluster that was lost: the restore takes them back. A write the
  // restored cluster acknowledged is never expected lost; the runner's final check holds it to that.
  const byLostCluster = (w: WriteRecord) => w.cluster !== current || w.start < step.upStart;
  const lost = acked.filter((w) => w.end >= t.backupAt && byLostCluster(w) && !present.has(w.key));
  ctx.expectLost(lost.map((w) => w.key));
  ctx.note(
    `${lost.length} writes acknowledged by the lost cluster after the backup are gone, as expected; ` +
      `the restored cluster (ID ${current}) acknowledged its first write ${seconds(recovered.end - step.upStart)} into the update`,
  );
  step.numbers = {
    "RPO (backup → failure)": seconds(t.failureAt - t.backupAt),
    "RTO (failure → first write acknowledged by the restored cluster)": seconds(recovered.end - t.failureAt),
    ...(outageStart !== undefined
      ? { "write outage during the restore": seconds(recovered.end - outageStart) }
      : {}),
    "writes lost after the backup (expected)": String(lost.length),
  };
}

/** The cluster's ID, from the header of `member list` (answered by any reachable member). */
export async function clusterId(ctx: DrillContext): Promise<string> {
  const id = headerClusterId(await ctx.etcd.ok(["member", "list", "-w", "json"]));
  if (id === undefined) throw new Error("etcdctl member list -w json printed no cluster ID");
  return id;
}

/** Fresh core-02 and core-03 join the restored member. A snapshot restore is a new cluster (new ID). */
export function regrow(t: RecoveryTimeline, newIdentity: boolean): DrillStep {
  return {
    title: "regrow to three members on fresh core-02 and core-03",
    set: { hostStates: { "core-01": "running", "core-02": "running", "core-03": "running" } },
    check: async (ctx) => {
      await expectMembers(ctx, all);
      const id = await clusterId(ctx);
      if (newIdentity && id === t.clusterId)
        throw new Error("the restored cluster kept the old cluster's ID");
      ctx.note(
        newIdentity
          ? `the restored cluster has a new identity: cluster ID ${String(t.clusterId)} → ${id}`
          : `force-new-cluster keeps the cluster's identity: cluster ID ${id}`,
      );
    },
  };
}

/** A backup whose snapshot was damaged is refused before anything happens, and the hosts stay as they were. */
export function corruptedBackupRefused(t: RecoveryTimeline): DrillStep {
  let before = "";
  return {
    title: "a corrupted backup is refused, nothing changes",
    set: (ctx) => {
      const bad = `${t.backupDir}-corrupted`;
      fs.rmSync(bad, { recursive: true, force: true });
      fs.cpSync(t.backupDir, bad, { recursive: true });
      const file = path.join(bad, "snapshot.db");
      const data = fs.readFileSync(file);
      const at = Math.floor(data.length / 2);
      data[at] = (data[at] ?? 0) ^ 0xff;
      fs.writeFileSync(file, data);
      before = JSON.stringify(ctx.outputs["hosts"]);
      return { "hostStates.core-01": "running", restore: { from: bad, method: "snapshot" } };
    },
    expectUpError: /fails its integrity check .*refusing to restore from it, nothing was changed/,
    check: async (ctx) => {
      const list = await run([driverScript("machines"), "list", ctx.config.lab]);
      if (/running|stopped/.test(list.stdout))
        throw new Error(`a host was brought up despite the refusal: ${list.stdout}`);
      if (JSON.stringify(ctx.outputs["hosts"]) !== before) throw new Error("the stack's outputs changed");
      ctx.note("every host is still destroyed and the stack's outputs are unchanged");
    },
  };
}

/** A recovery drill: its steps share one timeline, new for every run. */
export function recoveryDrill(
  name: string,
  title: string,
  steps: (t: RecoveryTimeline) => DrillStep[],
): Drill {
  return { name, title, writerIntervalMs: 1000, steps: () => steps(newTimeline()) };
}
