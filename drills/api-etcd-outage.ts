// The workshop's "Kubernetes API Server Under etcd Failure", temporary partition: etcd stops under the
// API server (a config change of its member's state), calls fail, etcd starts again and the API serves
// what it held before.
import { expectNoAcknowledgedWriteLost, waitFor } from "./checks";
import { apiSamples, kubectlOk, listedProbeObjects } from "./kubernetes";
import { apiProbe, failedOf } from "./probes";
import { probeLabel } from "./api-probe";
import type { Drill, DrillContext } from "./runner";

const name = "api-etcd-outage";
const host = "core-01";
/** The run's ConfigMaps carry this label value; a run of its own each time. */
const run = `outage-${Date.now().toString(36)}`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** When the member's etcd last started, as epoch ms (systemd's monotonic stamp against the host's uptime). */
async function etcdStartedAt(ctx: DrillContext): Promise<number> {
  const r = await ctx.ssh(
    host,
    "echo $(systemctl show -p ActiveEnterTimestampMonotonic --value etcd-member) $(cut -d' ' -f1 /proc/uptime) $(date +%s%3N)",
  );
  const [enteredUs, uptimeS, nowMs] = r.stdout.trim().split(/\s+/).map(Number) as [number, number, number];
  if (r.code !== 0 || !(enteredUs > 0))
    throw new Error(`no start time of etcd on ${host}: ${r.stderr.trim()}`);
  return nowMs - (uptimeS * 1000 - enteredUs / 1000);
}

export const apiEtcdOutage: Drill = {
  name,
  title: "API server under etcd failure: etcd stopped under the API server, then started again",
  writerIntervalMs: 100,
  probes: () => [apiProbe(run, 100)],
  steps: () => {
    let stoppedAt = 0;
    return [
      {
        title:
          "etcd and the control plane on core-01, the pause Deployment; a ConfigMap written through the API",
        set: {},
        check: async (ctx) => {
          if ((await kubectlOk(ctx, ["get", "--raw", "/readyz"])) !== "ok")
            throw new Error("/readyz is not ok");
          await kubectlOk(ctx, [
            "create",
            "configmap",
            "before-outage",
            `--from-literal=written=${new Date().toISOString()}`,
          ]);
          ctx.note("`kubectl get --raw /readyz`: ok; `kubectl create configmap before-outage`: created");
          ctx.note(
            `\`kubectl get deployment pause\`: ${(await kubectlOk(ctx, ["get", "deployment", "pause", "--no-headers"])).replace(/\s+/g, " ")}`,
          );
        },
      },
      {
        title: "stop etcd on its only member (`etcdMemberStates.core-01: stopped`): every API call fails",
        set: { [`etcdMemberStates.${host}`]: "stopped" },
        check: async (ctx, step) => {
          const r = await ctx.ssh(host, "systemctl is-active etcd-member || true");
          if (r.stdout.trim() !== "inactive")
            throw new Error(`etcd on ${host} is ${r.stdout.trim()}, not stopped`);
          stoppedAt = step.upStart;
          // What the workshop's `kubectl get pods` shows now, and how long it takes to show it.
          const t = Date.now();
          const got = await ctx.kubectl(["get", "pods"], 120_000);
          const tookMs = Date.now() - t;
          if (got.code === 0) throw new Error(`kubectl get pods succeeded with etcd stopped: ${got.stdout}`);
          ctx.note(
            `\`kubectl get pods\` failed after ${seconds(tookMs)}: ${got.stderr.trim().split("\n").pop()}`,
          );
          // Calls fail, and each fails on its own: none outlasts the client's bound.
          const failed = await waitFor("ten failed API calls after etcd stopped", 60_000, async () => {
            const after = apiSamples(ctx).filter(
              (s) => s.start > Date.now() - 30_000 && !s.ok && s.error !== undefined,
            );
            return Promise.resolve(after.length >= 10 ? after : undefined);
          });
          const durations = failed.map((s) => s.end - s.start).sort((a, b) => a - b);
          const worst = durations[durations.length - 1]!;
          if (worst > 11_000)
            throw new Error(`an API call hung for ${seconds(worst)}, past the client's 10 s bound`);
          const errors = [...new Set(failed.map((s) => s.error))];
          ctx.note(
            `API probe: calls fail; distinct errors a client saw: ${errors.map((e) => `\`${e}\``).join("; ")}`,
          );
          step.numbers = {
            "a failed API call took (median)": seconds(durations[Math.floor(durations.length / 2)]!),
            "a failed API call took (longest)": seconds(worst),
            "`kubectl get pods` failed after": seconds(tookMs),
          };
        },
      },
      {
        title: "start etcd again (`etcdMemberStates.core-01: running`): the API serves what it held",
        set: { [`etcdMemberStates.${host}`]: "running" },
        check: async (ctx, step) => {
          const started = await etcdStartedAt(ctx);
          const firstWrite = await waitFor(
            "a write acknowledged by the API server after etcd started",
            120_000,
            () => Promise.resolve(apiSamples(ctx).find((s) => s.start >= started && s.ok)),
          );
          const firstReady = await waitFor("/readyz ok after etcd started", 120_000, () =>
            Promise.resolve(apiSamples(ctx).find((s) => s.start >= started && s.ready)),
          );
          const lost = await kubectlOk(ctx, [
            "get",
            "configmap",
            "before-outage",
            "-o",
            "jsonpath={.data.written}",
          ]);
          ctx.note(`ConfigMap before-outage, written before the outage, reads back (written ${lost})`);
          // Every write the API server acknowledged, before, during and after the outage, is there.
          const acked = apiSamples(ctx)
            .filter((s) => s.ok && s.name)
            .map((s) => s.name!);
          const listed = await listedProbeObjects(ctx, probeLabel, run);
          const missing = acked.filter((n) => !listed.has(n));
          if (missing.length > 0)
            throw new Error(`${missing.length} acknowledged API writes are missing, first ${missing[0]}`);
          ctx.note(`every one of the ${acked.length} API writes acknowledged so far reads back`);
          await expectNoAcknowledgedWriteLost(ctx);
          // The kubelet's liveness probe (/livez, which checks etcd) restarts an API server whose etcd stays
          // away: how many times it did, as the API reports it.
          const restarts = await kubectlOk(ctx, [
            "get",
            "pod",
            "-n",
            "kube-system",
            `kube-apiserver-${host}`,
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
          ]);
          ctx.note(
            `the kubelet restarted the API server ${restarts} time(s) during the outage (its liveness probe, /livez, checks etcd)`,
          );
          const outage = apiSamples(ctx).filter((s) => s.start >= stoppedAt && s.start < firstWrite.start);
          step.numbers = {
            "etcd start → first API write acknowledged": seconds(firstWrite.end - started),
            "etcd start → /readyz ok": seconds(firstReady.end - started),
            "API calls failed while etcd was down": failedOf(outage),
          };
        },
      },
    ];
  },
};
