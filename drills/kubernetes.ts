// What the Kubernetes drills share: kubectl that must succeed, and the API probe's samples.
import type { ApiSample } from "./api-probe";
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
