// The workshop's "High Availability of API Server", as a failure: three control-plane hosts behind
// keepalived's virtual IP, workers core-02 and core-03 serving the web Service, the API probe on the
// virtual IP, the HTTP probe through core-02's NodePort and the etcd writer on. core-01, which holds the
// address, is killed (every process at once: no goodbye from keepalived), and after it is back and holds
// the address again, halted (`hostStates.core-01: stopped`: keepalived steps down as the host shuts down).
import { expectNoAcknowledgedWriteLost, longestAckGap, waitFor } from "./checks";
import type { HttpSample } from "./http-probe";
import {
  apiSamples,
  expectApiWritesReadBack,
  leaseHolders,
  nodeReadiness,
  virtualIpHolders,
} from "./kubernetes";
import { apiProbe, failedOf, httpProbe, httpProbeName } from "./probes";
import type { StepRecord } from "./report";
import type { Drill, DrillContext, DrillStep } from "./runner";
import { keepalivedUnitName } from "../components/kubernetes/facts";
import { shellCommand } from "../components/host/shell";

const name = "api-failover";
const lost = "core-01";
const run = `failover-${Date.now().toString(36)}`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function nodesReady(ctx: DrillContext): Promise<boolean> {
  const nodes = [...(await nodeReadiness(ctx)).values()];
  return nodes.length === 3 && nodes.every((n) => n.status === "True");
}

/**
 * What a client of the virtual IP saw from `from` until the API answered again: the longest time
 * without an acknowledged write, the calls that failed, and the Service's requests meanwhile.
 */
async function measureOutage(ctx: DrillContext, step: StepRecord, from: number, how: string): Promise<void> {
  const back = await waitFor(
    "an API write acknowledged through the virtual IP after the failure",
    120_000,
    () => Promise.resolve(apiSamples(ctx).find((s) => s.ok && s.start > from)?.end),
  );
  const holders = await waitFor("one control-plane host holding the virtual IP", 60_000, async () => {
    const h = await virtualIpHolders(ctx);
    return h.length === 1 ? h : undefined;
  });
  if (holders[0] === lost) throw new Error(`${lost} still holds the virtual IP`);
  // A little past the first success: a client's later calls count too.
  const until = back + 5000;
  await waitFor("the probes' samples past the outage", 30_000, () =>
    Promise.resolve(apiSamples(ctx).some((s) => s.start > until) ? true : undefined),
  );
  const api = apiSamples(ctx).filter((s) => s.start >= from - 1000 && s.start <= until);
  const failed = api.filter((s) => !s.ok);
  const http = (ctx.samples(httpProbeName) as HttpSample[]).filter(
    (s) => s.start >= from && s.start <= until,
  );
  if (http.length === 0) throw new Error("the HTTP probe recorded nothing during the failure");
  const errors = [...new Set(failed.map((s) => s.error))];
  if (errors.length > 0) ctx.note(`API errors a client saw: ${errors.map((e) => `\`${e}\``).join("; ")}`);
  ctx.note(`the virtual IP moved to ${holders[0]!}`);
  step.numbers = {
    [`${how}: longest time without an acknowledged API write (virtual IP)`]: seconds(
      longestAckGap(api, from, until),
    ),
    [`${how}: API calls failed`]: `${failed.length} of ${api.length}`,
    [`${how}: HTTP requests to the Service failed`]: failedOf(http),
    [`${how}: HTTP longest time without an answer`]: seconds(longestAckGap(http, from, until)),
  };
}

/** core-01 comes back (its node Ready); the address stays where it went: nothing preempts it. */
function backStep(title: string, set: DrillStep["set"], refresh: boolean): DrillStep {
  return {
    title,
    set,
    ...(refresh ? { refresh } : {}),
    check: async (ctx) => {
      await waitFor("all three nodes Ready", 180_000, async () =>
        (await nodesReady(ctx)) ? true : undefined,
      );
      const holders = await virtualIpHolders(ctx);
      if (holders.length !== 1 || holders[0] === lost)
        throw new Error(`the virtual IP is on ${holders.join(", ") || "no host"}, not where it moved`);
      ctx.note(`${lost} is back and Ready; the virtual IP stays on ${holders[0]!} (no preemption)`);
    },
  };
}

export const apiFailover: Drill = {
  name,
  title: "API failover: the control-plane host that holds the virtual IP killed, then halted",
  writerIntervalMs: 250,
  probes: () => [apiProbe(run, 100), httpProbe(100, "core-02")],
  steps: () => {
    return [
      {
        title: `three control-plane hosts behind the virtual IP, workers core-02 and core-03, the web Service on both`,
        set: {},
        check: async (ctx) => {
          const holders = await virtualIpHolders(ctx);
          if (holders.join() !== lost)
            throw new Error(`the virtual IP is on ${holders.join(", ") || "no host"}`);
          const leases = await leaseHolders(ctx);
          ctx.note(
            `the virtual IP on ${lost}; Leases: kube-controller-manager on ${leases["kube-controller-manager"].host}, kube-scheduler on ${leases["kube-scheduler"].host}`,
          );
        },
      },
      {
        title: `kill ${lost}, which holds the virtual IP: every process at once, behind Pulumi's back`,
        set: {},
        check: async (ctx, step) => {
          const killedAt = Date.now();
          await ctx.crash(lost);
          ctx.note(`every process of ${lost} killed (${seconds(Date.now() - killedAt)})`);
          await measureOutage(ctx, step, killedAt, "kill");
        },
      },
      backStep(`\`pulumi refresh\` reads ${lost} as stopped; \`pulumi up\` starts it again`, {}, true),
      {
        title: `give the virtual IP back to ${lost}: keepalived restarted where it is now, and the election goes to the first listed host`,
        set: {},
        check: async (ctx) => {
          const [holder] = await virtualIpHolders(ctx);
          const r = await ctx.ssh(holder!, shellCommand("systemctl", "restart", keepalivedUnitName));
          if (r.code !== 0) throw new Error(`restarting keepalived on ${holder!} failed: ${r.stderr}`);
          await waitFor(`${lost} holding the virtual IP`, 30_000, async () =>
            (await virtualIpHolders(ctx)).join() === lost ? true : undefined,
          );
          ctx.note(`\`systemctl restart keepalived\` on ${holder!}: ${lost} holds the virtual IP`);
        },
      },
      {
        title: `halt ${lost} (\`hostStates.${lost}: stopped\`)`,
        set: { [`hostStates.${lost}`]: "stopped" },
        check: async (ctx, step) => {
          await measureOutage(ctx, step, step.upStart, "halt");
        },
      },
      backStep(
        `${lost} back (\`hostStates.${lost}: running\`)`,
        { [`hostStates.${lost}`]: "running" },
        false,
      ),
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
