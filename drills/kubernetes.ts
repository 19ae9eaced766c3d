// What the Kubernetes drills share: kubectl that must succeed, and the API probe's samples.
import type { ApiSample } from "./api-probe";
import { probeLabel } from "./api-probe";
import { apiProbeName } from "./probes";
import type { DrillContext } from "./runner";

/** What kubectl prints when a request got no answer: the connection failed, or dropped mid-request. */
const unanswered =
  /Unable to connect to the server|unexpected EOF|connection reset by peer|http2: client connection lost/;

/** How long a request that is safe to repeat is tried again while it gets no answer. */
const unansweredRetryMs = 60_000;

/**
 * kubectl with the stack's kubeconfig; its output, or an error with what it printed. A check is not a
 * probe: a read, or a delete that ignores not-found, that got no answer (a connection through the virtual
 * IP dropped by a busy host, an API server restarting) is tried again for a minute, the probes having
 * recorded the outage. Anything else fails at once.
 */
export async function kubectlOk(ctx: DrillContext, args: string[]): Promise<string> {
  const repeatable = args[0] === "get" || (args[0] === "delete" && args.includes("--ignore-not-found"));
  const deadline = Date.now() + unansweredRetryMs;
  for (let attempt = 1; ; attempt++) {
    const r = await ctx.kubectl(args);
    if (r.code === 0) return r.stdout.trim();
    const again = repeatable && unanswered.test(r.stderr) && Date.now() < deadline;
    if (!again) {
      const tries = attempt > 1 ? ` (attempt ${attempt}, the others unanswered)` : "";
      throw new Error(`kubectl ${args.join(" ")}: exit ${r.code}${tries}: ${r.stderr.trim()}`);
    }
    await new Promise((done) => setTimeout(done, 1_000));
  }
}

/** What the API probe recorded so far. */
export function apiSamples(ctx: DrillContext): ApiSample[] {
  return ctx.samples(apiProbeName) as ApiSample[];
}

/** The names of the probe run's ConfigMaps that the API lists now. */
export async function listedProbeObjects(
  ctx: DrillContext,
  label: string,
  run: string,
): Promise<Set<string>> {
  const out = await kubectlOk(ctx, ["get", "configmaps", "-l", `${label}=${run}`, "-o", "name"]);
  return new Set(out.split("\n").map((l) => l.replace(/^configmap\//, "")));
}

/** Every API write the probe saw acknowledged in this run reads back; notes how many. */
export async function expectApiWritesReadBack(ctx: DrillContext, run: string): Promise<void> {
  const acked = apiSamples(ctx)
    .filter((s) => s.ok && s.name)
    .map((s) => s.name!);
  const listed = await listedProbeObjects(ctx, probeLabel, run);
  const missing = acked.filter((n) => !listed.has(n));
  if (missing.length > 0) throw new Error(`${missing.length} acknowledged API writes are missing`);
  ctx.note(`every one of the ${acked.length} API writes acknowledged during the drill reads back`);
}

/** A leader-election Lease in kube-system: its holder (`<host>_<uuid>`), that host, its renewal and acquisition (ms). */
export interface LeaseView {
  holder: string;
  host: string;
  renewed: number;
  acquired: number;
}

type LeaseObject = { spec: { holderIdentity?: string; renewTime?: string; acquireTime?: string } };

function leaseView(lease: LeaseObject): LeaseView {
  const holder = lease.spec.holderIdentity ?? "";
  return {
    holder,
    host: holder.replace(/_.*$/, ""),
    renewed: Date.parse(lease.spec.renewTime ?? ""),
    acquired: Date.parse(lease.spec.acquireTime ?? ""),
  };
}

export async function readLease(ctx: DrillContext, lease: string): Promise<LeaseView> {
  const out = await kubectlOk(ctx, ["get", "lease", "-n", "kube-system", lease, "-o", "json"]);
  return leaseView(JSON.parse(out) as LeaseObject);
}

export const controlPlaneLeases = ["kube-controller-manager", "kube-scheduler"] as const;
export type ControlPlaneLease = (typeof controlPlaneLeases)[number];

/**
 * The Leases of kube-controller-manager and kube-scheduler, read in one request through `kubectl` (a
 * drill's, or an integration test's session).
 */
export async function readLeaseHolders(
  kubectl: (args: string[]) => Promise<string>,
): Promise<Record<ControlPlaneLease, LeaseView>> {
  const out = await kubectl(["get", "lease", "-n", "kube-system", ...controlPlaneLeases, "-o", "json"]);
  const list = JSON.parse(out) as { items: (LeaseObject & { metadata: { name: string } })[] };
  const view = (name: ControlPlaneLease) => {
    const lease = list.items.find((l) => l.metadata.name === name);
    if (!lease) throw new Error(`no Lease ${name} in kube-system`);
    return leaseView(lease);
  };
  return {
    "kube-controller-manager": view("kube-controller-manager"),
    "kube-scheduler": view("kube-scheduler"),
  };
}

/** The Leases of kube-controller-manager and kube-scheduler, read in one request. */
export function leaseHolders(ctx: DrillContext): Promise<Record<ControlPlaneLease, LeaseView>> {
  return readLeaseHolders((args) => kubectlOk(ctx, args));
}

/** Each node's Ready condition: its status ("True", "False", "Unknown") and when it last changed (the node controller's own time, ms). */
export async function nodeReadiness(
  ctx: DrillContext,
): Promise<Map<string, { status: string; since: number }>> {
  const out = await kubectlOk(ctx, ["get", "nodes", "-o", "json"]);
  const list = JSON.parse(out) as {
    items: {
      metadata: { name: string };
      status: { conditions?: { type: string; status: string; lastTransitionTime?: string }[] };
    }[];
  };
  return new Map(
    list.items.map((n) => {
      const ready = n.status.conditions?.find((c) => c.type === "Ready");
      return [
        n.metadata.name,
        { status: ready?.status ?? "", since: Date.parse(ready?.lastTransitionTime ?? "") },
      ];
    }),
  );
}

/** The node's Ready condition (an error if there is no such node). */
export async function nodeReadyCondition(
  ctx: DrillContext,
  node: string,
): Promise<{ status: string; since: number }> {
  const ready = (await nodeReadiness(ctx)).get(node);
  if (!ready) throw new Error(`no node ${node}`);
  return ready;
}

/**
 * Which of `hosts` hold `address` (a /32 on one of their interfaces), asking each through `ssh` for its
 * `ip -o -4 addr show`; a host `ssh` gives nothing for holds nothing.
 */
export async function hostsHolding(
  address: string,
  hosts: string[],
  ssh: (host: string, command: string) => Promise<string | undefined>,
): Promise<string[]> {
  const held = await Promise.all(
    hosts.map(async (h) => ((await ssh(h, "ip -o -4 addr show"))?.includes(` ${address}/32 `) ? [h] : [])),
  );
  return held.flat();
}

/** The control-plane hosts that hold the API servers' virtual IP now (SSH; a host that does not answer holds nothing). */
export async function virtualIpHolders(ctx: DrillContext): Promise<string[]> {
  const vip = ctx.config.kubernetes.apiVirtualIp;
  if (!vip) throw new Error("the stack has no apiVirtualIp");
  return hostsHolding(vip, ctx.config.kubernetes.controlPlane, async (h, command) => {
    const r = await ctx.ssh(h, command).catch(() => undefined);
    return r?.code === 0 ? r.stdout : undefined;
  });
}

/**
 * A pod deletion completes: `kubectl delete` waits until the object is gone, which takes the kubelet's
 * word that the pod stopped (a kubelet whose watch missed the deletion leaves it Terminating). Returns the
 * pod deleted.
 */
export async function expectPodDeletionCompletes(
  ctx: DrillContext,
  namespace: string,
  selector: string,
): Promise<string> {
  const pods = (await kubectlOk(ctx, ["get", "pods", "-n", namespace, "-l", selector, "-o", "name"]))
    .split("\n")
    .filter(Boolean);
  if (pods.length === 0) throw new Error(`no pod ${selector} in ${namespace} to delete`);
  const r = await ctx.kubectl(["delete", "-n", namespace, pods[0]!, "--timeout=90s"], 120_000);
  if (r.code !== 0)
    throw new Error(
      `\`kubectl delete -n ${namespace} ${pods[0]!}\` did not complete within 90 s (its kubelet never confirmed the deletion): ${r.stderr.trim()}`,
    );
  return pods[0]!;
}
