// Runs drills for real (the drill runner: real engine, real lab, real etcdctl) and fails on any failed
// check. The etcd drills are split over two test files so that jest can run two labs side by side; the
// Kubernetes drills (a control plane in their stack config) have a file of their own, those with workers
// (long: they wait out Kubernetes' eviction timeouts) another, and those with a control plane on more
// than one host two more; the test run starts them once the cluster's binaries and images are built
// (test/run-all.sh).
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { drills } from "../../drills/index";
import { effectiveConfig, runDrill } from "../../drills/runner";
import { projectRoot } from "../../workstation/lab";

/**
 * What a drill's stack runs (its Pulumi.<drill>.yaml): etcd alone, a control plane, workers too, or a
 * control plane on more than one host.
 */
export function drillKind(name: string): "etcd" | "kubernetes" | "workers" | "ha" {
  const file = path.join(projectRoot, `Pulumi.${name}.yaml`);
  const config =
    (yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | undefined)?.config ??
    {};
  const { kubernetes } = effectiveConfig(name, config);
  if (kubernetes.controlPlane.length > 1) return "ha";
  if (kubernetes.workers.length > 0) return "workers";
  return kubernetes.controlPlane.length > 0 ? "kubernetes" : "etcd";
}

export function drillTests(group: "etcd-0" | "etcd-1" | "kubernetes" | "workers" | "ha-0" | "ha-1"): void {
  // Long kinds are split over two files by position, so that jest can run them side by side.
  const [kind, half] = group.split("-") as ["etcd" | "kubernetes" | "workers" | "ha", string | undefined];
  const names = Object.keys(drills)
    .filter((n) => drillKind(n) === kind)
    .filter((_, i) => half === undefined || i % 2 === Number(half));
  describe.each(names)("drill %s", (name) => {
    it("passes on the local lab, with no acknowledged write lost", async () => {
      const { record, reportFile } = await runDrill(drills[name]!);
      process.stdout.write(`drill ${name}: ${record.outcome}, report ${reportFile}\n`);
      expect(record.outcome).toBe("passed");
      expect(record.missing).toEqual([]);
    });
  });
}
