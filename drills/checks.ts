// Checks shared by drills. Each one asks the real cluster (etcdctl) and either notes what it saw in the
// report or throws with what it saw instead.
import type { EndpointStatus, EtcdMember } from "../workstation/lab";
import { changed } from "../workstation/stack";
import type { DrillContext } from "./runner";
import type { Sample } from "./probes";
import type { StepRecord } from "./report";

const sorted = (xs: string[]) => [...xs].sort();

/** The member list, and how many listed members pass a health check on their first client URL. */
export async function memberHealth(ctx: DrillContext): Promise<{ list: EtcdMember[]; healthy: number }> {
  const list = await ctx.etcd.memberList();
  const health = await ctx.etcd.health(list.flatMap((m) => m.clientUrls.slice(0, 1)));
  return { list, healthy: Object.values(health).filter(Boolean).length };
}

/** Exactly these members, all started voters, and every one of them healthy. */
export async function expectMembers(ctx: DrillContext, names: string[]): Promise<Map<string, string>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { list, healthy } = await memberHealth(ctx);
    const same = JSON.stringify(sorted(list.map((m) => m.name))) === JSON.stringify(sorted(names));
    if (same && list.every((m) => m.status === "started" && !m.learner) && healthy === names.length) {
      ctx.note(
        `etcdctl member list: ${names.length} started voting members (${sorted(names).join(", ")}); endpoint health: ${healthy}/${names.length} healthy`,
      );
      return new Map(list.map((m) => [m.name, m.id]));
    }
    if (Date.now() > deadline) {
      throw new Error(
        `expected members ${sorted(names).join(", ")} all healthy; etcdctl sees ` +
          list.map((m) => `${m.name || "(unstarted)"}:${m.status}${m.learner ? ":learner" : ""}`).join(", ") +
          `, ${healthy} healthy`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A marker put now is read back: the cluster serves reads and writes. */
export async function expectPutGet(ctx: DrillContext, label: string): Promise<void> {
  const key = `/drill/check/${label}`;
  const value = new Date().toISOString();
  await ctx.etcd.put(key, value);
  const got = await ctx.etcd.get(key);
  if (got !== value) throw new Error(`put ${key}=${value} but read back ${String(got)}`);
  ctx.note(`etcdctl put/get ${key}: read back what was written`);
}

/** The writer kept getting acknowledgements during the step (the cluster kept serving writes). */
export function expectWritesDuring(ctx: DrillContext, step: StepRecord): void {
  const during = ctx.writes().filter((w) => w.start >= step.upStart && w.end <= Date.now());
  const ok = during.filter((w) => w.ok).length;
  if (ok === 0) throw new Error(`no write was acknowledged during "${step.title}" (${during.length} tried)`);
  ctx.note(`writes during the step: ${ok} of ${during.length} acknowledged`);
}

/** Writes fail now, with the error the client reports (quorum lost). */
export async function expectWritesFail(ctx: DrillContext): Promise<string> {
  const r = await ctx.etcd.exec(["put", "/drill/check/no-quorum", "x"]);
  if (r.code === 0) throw new Error("a put succeeded, but the cluster was expected to have no quorum");
  const error = r.stderr.trim().split("\n").pop() ?? `exit ${r.code}`;
  ctx.note(`etcdctl put fails as expected: \`${error}\``);
  return error;
}

/** The step's `pulumi up` changed nothing at all. */
export function expectNoChanges(ctx: DrillContext, step: StepRecord): void {
  if (Object.keys(changed(step.changes)).length > 0)
    throw new Error(`expected no changes, pulumi up reported ${JSON.stringify(step.changes)}`);
  ctx.note(
    `a second \`pulumi up\` with unchanged config changed nothing (${step.changes["same"] ?? 0} resources unchanged)`,
  );
}

/** Every acknowledged write so far can be read back now. */
export async function expectNoAcknowledgedWriteLost(ctx: DrillContext): Promise<void> {
  const acked = ctx.writes().filter((w) => w.ok);
  const present = await ctx.etcd.keys(ctx.writePrefix);
  const missing = acked.filter((w) => !present.has(w.key));
  if (missing.length > 0)
    throw new Error(`${missing.length} acknowledged writes are missing, first ${missing[0]!.key}`);
  ctx.note(`all ${acked.length} writes acknowledged so far are present`);
}

/** The step's `pulumi up` output says this (a warning, a member being added or removed...). */
export function expectOutput(ctx: DrillContext, step: StepRecord, pattern: RegExp, what: string): void {
  const line = step.output.split("\n").find((l) => pattern.test(l));
  if (!line) throw new Error(`pulumi up did not show ${what} (${pattern.source})`);
  ctx.note(`\`pulumi up\` showed ${what}: \`${line.trim()}\``);
}

/** Polls `probe` every 100 ms until it returns a value, for at most `ms`; the error says what was awaited. */
export async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Failover {
  /** The host that held the leader and was crashed. */
  host: string;
  /** From the start of the crash to the first survivor reporting a new leader. */
  newLeaderMs: number;
  /** The longest time without an acknowledged write, from just before the crash until writes flow again. */
  writeGapMs: number;
}

/** The longest stretch between consecutive acknowledged writes that reaches into [from, to). */
export function longestAckGap(writes: Pick<Sample, "ok" | "end">[], from: number, to: number): number {
  const ends = writes
    .filter((w) => w.ok)
    .map((w) => w.end)
    .sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < ends.length; i++) {
    if (ends[i]! >= from && ends[i - 1]! < to) gap = Math.max(gap, ends[i]! - ends[i - 1]!);
  }
  return gap;
}

/**
 * etcd's leader: its member ID, its host's name and the endpoint that answered as the leader, with every
 * endpoint's status it was found in.
 */
export async function etcdLeader(
  ctx: DrillContext,
): Promise<{ id: string; name: string; endpoint: string; status: EndpointStatus[] }> {
  const status = await ctx.etcd.status();
  const leader = status.find((s) => s.memberId === s.leader);
  const host = ctx.config.hosts.find((h) => leader?.endpoint.includes(`//${h.address}:`));
  if (!leader || !host) throw new Error(`no etcd leader found: ${JSON.stringify(status)}`);
  return { id: leader.memberId, name: host.name, endpoint: leader.endpoint, status };
}

/**
 * The workshop's lost member, made as hard as it gets: the leader's host crashes (every process killed
 * at once: no graceful leadership transfer). Measures how long the survivors take to elect a new leader
 * and how long writes go unacknowledged.
 */
export async function crashLeader(ctx: DrillContext): Promise<Failover> {
  const { id: leaderId, status: before, ...host } = await etcdLeader(ctx);
  const survivors = before.filter((s) => s.memberId !== leaderId).map((s) => s.endpoint);
  const crashAt = Date.now();
  await ctx.crash(host.name);
  // Every process of the host is gone once the driver returns: the leader died in between.
  const deadAt = Date.now();
  const newLeaderAt = await waitFor(`a new leader among ${survivors.join(", ")}`, 60_000, async () => {
    const now = await ctx.etcd.status(survivors);
    return now.some((s) => s.leader !== "0" && s.leader !== leaderId) ? Date.now() : undefined;
  });
  // Writes flow again once one is acknowledged that was sent after the new leader was seen.
  const flowingAt = await waitFor("a write acknowledged after the new leader", 60_000, () =>
    Promise.resolve(ctx.writes().find((w) => w.ok && w.start >= newLeaderAt)?.end),
  );
  const failover = {
    host: host.name,
    newLeaderMs: newLeaderAt - crashAt,
    writeGapMs: longestAckGap(ctx.writes(), crashAt - 1000, flowingAt),
  };
  ctx.note(
    `crashed ${host.name}, the leader (the kill took ${((deadAt - crashAt) / 1000).toFixed(2)} s): a new ` +
      `leader after ${(failover.newLeaderMs / 1000).toFixed(2)} s, no write acknowledged for ` +
      `${(failover.writeGapMs / 1000).toFixed(2)} s`,
  );
  return failover;
}
