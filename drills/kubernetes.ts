// What the Kubernetes drills share: kubectl that must succeed, and the API probe's samples.
import type { ApiSample } from "./api-probe";
import { probeLabel } from "./api-probe";
import { apiProbeName } from "./probes";
import type { DrillContext } from "./runner";

/** kubectl with the stack's kubeconfig; its output, or an error with what it printed. */
export async function kubectlOk(ctx: DrillContext, args: string[]): Promise<string> {
  const r = await ctx.kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.trim();
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

export async function readLease(ctx: DrillContext, lease: string): Promise<LeaseView> {
  const out = await kubectlOk(ctx, [
    "get",
    "lease",
    "-n",
    "kube-system",
    lease,
    "-o",
    "jsonpath={.spec.holderIdentity} {.spec.renewTime} {.spec.acquireTime}",
  ]);
  const [holder = "", renewed = "", acquired = ""] = out.split(" ");
  return {
    holder,
    host: holder.replace(/_.*$/, ""),
    renewed: Date.parse(renewed),
    acquired: Date.parse(acquired),
  };
}

/** The Leases of kube-controller-manager and kube-scheduler. */
export async function leaseHolders(
  ctx: DrillContext,
): Promise<Record<"kube-controller-manager" | "kube-scheduler", LeaseView>> {
  return {
    "kube-controller-manager": await readLease(ctx, "kube-controller-manager"),
    "kube-scheduler": await readLease(ctx, "kube-scheduler"),
  };
}

/** The control-plane hosts that hold the API servers' virtual IP now (SSH; a host that does not answer holds nothing). */
export async function virtualIpHolders(ctx: DrillContext): Promise<string[]> {
  const vip = ctx.config.kubernetes.apiVirtualIp;
  if (!vip) throw new Error("the stack has no apiVirtualIp");
  const held = await Promise.all(
    ctx.config.kubernetes.controlPlane.map(async (h) => {
      const r = await ctx.ssh(h, "ip -o -4 addr show").catch(() => undefined);
      return r?.code === 0 && r.stdout.includes(` ${vip}/32 `) ? [h] : [];
    }),
  );
  return held.flat();
}
