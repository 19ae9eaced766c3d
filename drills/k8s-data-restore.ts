// The workshop's "Kubernetes API Server Under etcd Failure", data loss and restore: the pause Deployment
// at 1 replica, a backup, a scale-up to 5, etcd's data lost under the control plane, the classic data-dir
// restore, and the cluster as the backup had it: 1 replica.
import { paths as etcdPaths, unit as etcdUnit } from "../components/etcd/facts";
import { paths as kubePaths } from "../components/kubernetes/facts";
import { etcdRestoreAnnotation } from "../components/kubernetes/render";
import { shellCommand, shellQuote } from "../components/host/shell";
import { probeLabel } from "./api-probe";
import { waitFor } from "./checks";
import { apiSamples, expectPodDeletionCompletes, kubectlOk, listedProbeObjects } from "./kubernetes";
import { apiProbe } from "./probes";
import { checkRestored, newTimeline, takeBackup } from "./recovery";
import type { Drill, DrillContext } from "./runner";

const name = "k8s-data-restore";
const host = "core-01";
const run = `restore-${Date.now().toString(36)}`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const aside = "/root/manifests-aside";

/** The resourceVersion of a list: the revision of etcd the API server serves, as every watching client sees it. */
async function listRevision(ctx: DrillContext): Promise<number> {
  const list = await kubectlOk(ctx, ["get", "--raw", "/api/v1/namespaces/default/configmaps?limit=1"]);
  return Number((JSON.parse(list) as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
}

async function replicas(ctx: DrillContext): Promise<string> {
  return kubectlOk(ctx, ["get", "deployment", "pause", "-o", "jsonpath={.spec.replicas}"]);
}

export const k8sDataRestore: Drill = {
  name,
  title: "Kubernetes data loss and restore: a backup, a scale-up, etcd's data lost, the classic restore",
  writerIntervalMs: 1000,
  probes: () => [apiProbe(run, 100)],
  steps: () => {
    const t = newTimeline();
    let revisionBeforeDisaster = 0;
    return [
      {
        title: "etcd and the control plane on core-01, the pause Deployment at 1 replica",
        set: {},
        check: async (ctx) => {
          if ((await replicas(ctx)) !== "1") throw new Error("the pause Deployment does not have 1 replica");
          await kubectlOk(ctx, ["create", "configmap", "before-backup", "--from-literal=at=before"]);
          ctx.note("`kubectl get deployment pause`: 1 replica; ConfigMap before-backup created");
        },
      },
      takeBackup(t),
      {
        title: "scale the pause Deployment to 5 through config, after the backup",
        set: { pauseReplicas: 5 },
        check: async (ctx) => {
          if ((await replicas(ctx)) !== "5") throw new Error("the pause Deployment was not scaled to 5");
          await kubectlOk(ctx, ["create", "configmap", "after-backup", "--from-literal=at=after"]);
          ctx.note("`kubectl get deployment pause`: 5 replicas; ConfigMap after-backup created");
        },
      },
      {
        title:
          "disaster, as the workshop made it: the control plane's manifests moved aside, etcd stopped, its data wiped",
        set: {},
        check: async (ctx) => {
          revisionBeforeDisaster = await listRevision(ctx);
          const disaster = [
            shellCommand("mkdir", "-p", aside),
            `mv ${shellQuote(kubePaths.manifests)}/*.yaml ${shellQuote(aside)}/`,
            shellCommand("systemctl", "stop", etcdUnit),
            shellCommand("rm", "-rf", etcdPaths.dataDir),
          ].join(" && ");
          const r = await ctx.ssh(host, disaster);
          if (r.code !== 0) throw new Error(`the disaster failed: ${r.stderr.trim()}`);
          t.failureAt = Date.now();
          ctx.note(`on ${host}: \`${disaster}\``);
          // The kubelet stops the API server once its manifest is gone.
          await waitFor("the API server to stop answering", 60_000, async () =>
            (await ctx.kubectl(["get", "--raw", "/readyz"], 10_000)).code !== 0 ? true : undefined,
          );
          const put = await ctx.etcd.exec(["put", "/drill/check/after-disaster", "x"]);
          if (put.code === 0) throw new Error("etcd acknowledged a put with its data wiped and stopped");
          ctx.note(
            "the API server is gone (`kubectl get --raw /readyz` fails) and etcd acknowledges nothing",
          );
        },
      },
      {
        title:
          "restore the backup's data-dir archive on core-01 (`restore.method: classic`); the control plane starts afresh",
        set: () => ({ restore: { from: t.backupDir, method: "classic" } }),
        check: async (ctx, step) => {
          await checkRestored(ctx, step, t, [host]);
          const firstApiWrite = await waitFor(
            "a write acknowledged by the restored API server",
            120_000,
            () => Promise.resolve(apiSamples(ctx).find((s) => s.start >= t.failureAt && s.ok)),
          );
          const got = await replicas(ctx);
          if (got !== "1")
            throw new Error(`after the restore the Deployment has ${got} replicas, not the backup's 1`);
          ctx.note(
            "`kubectl get deployment pause`: **1** replica, as at the backup: the scale-up after it is gone",
          );
          await kubectlOk(ctx, ["get", "configmap", "before-backup"]);
          const after = await ctx.kubectl(["get", "configmap", "after-backup"]);
          if (after.code === 0)
            throw new Error("ConfigMap after-backup, created after the backup, is still there");
          // A list at resourceVersion 0 is served from the API server's watch cache: a cache that outlived
          // the restore would still hold what etcd no longer has.
          const cached = await kubectlOk(ctx, [
            "get",
            "--raw",
            "/api/v1/namespaces/default/configmaps?resourceVersion=0",
          ]);
          if (cached.includes('"after-backup"')) throw new Error("the watch cache still lists after-backup");
          const annotation = await kubectlOk(ctx, [
            "get",
            "pod",
            "-n",
            "kube-system",
            `kube-apiserver-${host}`,
            "-o",
            `jsonpath={.metadata.annotations.${etcdRestoreAnnotation}}`,
          ]);
          ctx.note(
            `ConfigMap before-backup reads back; after-backup is NotFound, in a consistent read and in the watch cache (\`resourceVersion=0\`): the API server is a new one, started for restore \`${annotation}\``,
          );
          // Clients resume watches at the last revision they saw: had the restore taken revisions back, a
          // kubelet would skip every event until etcd caught up (a deleted pod stays Terminating).
          const revision = await listRevision(ctx);
          if (!(revision > revisionBeforeDisaster))
            throw new Error(
              `the restored API server serves resourceVersion ${revision}, not past ${revisionBeforeDisaster} seen before the disaster: watches resumed there skip events`,
            );
          const deleted = await expectPodDeletionCompletes(ctx, "kube-system", "k8s-app=kube-dns");
          ctx.note(
            `resourceVersion ${revision} after the restore, past ${revisionBeforeDisaster} before the disaster (the restore bumps etcd's revision), and \`kubectl delete -n kube-system ${deleted}\` completes: core-01's kubelet saw the deletion`,
          );
          // API writes: those acknowledged before the backup are there; those after it are gone.
          const listed = await listedProbeObjects(ctx, probeLabel, run);
          const acked = apiSamples(ctx).filter((s) => s.ok && s.name);
          const before = acked.filter((s) => s.end < t.backupAt);
          const missing = before.filter((s) => !listed.has(s.name!));
          if (missing.length > 0)
            throw new Error(`${missing.length} API writes acknowledged before the backup are missing`);
          const lost = acked.filter(
            (s) => s.end >= t.backupAt && s.start < t.failureAt && !listed.has(s.name!),
          );
          ctx.note(
            `all ${before.length} API writes acknowledged before the backup read back; ${lost.length} acknowledged after it are gone, as the restore takes them back`,
          );
          step.numbers = {
            ...step.numbers,
            "RTO through the API (failure → first API write acknowledged)": seconds(
              firstApiWrite.end - t.failureAt,
            ),
            "API writes lost after the backup (expected)": String(lost.length),
          };
        },
      },
      {
        title: "`pulumi refresh` reads the Deployment at 1 replica; `pulumi up` scales it back to config's 5",
        set: {},
        refresh: true,
        check: async (ctx) => {
          const got = await replicas(ctx);
          if (got !== "5") throw new Error(`the Deployment has ${got} replicas after refresh and up, not 5`);
          ctx.note("`kubectl get deployment pause`: 5 replicas again, from the stack's config");
        },
      },
    ];
  },
};
