// Runs drills for real (the drill runner: real engine, real lab, real etcdctl) and fails on any failed
// check. The etcd drills are split over two test files so that jest can run two labs side by side; the
// Kubernetes drills (a control plane in their stack config) have a file of their own, which the test run
// starts once the cluster's binaries and images are built (test/run-all.sh).
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { drills } from "../../drills/index";
import { effectiveConfig, runDrill } from "../../drills/runner";
import { projectRoot } from "../../workstation/lab";

/** Whether a drill's stack runs Kubernetes (its Pulumi.<drill>.yaml gives it a control plane). */
export function isKubernetesDrill(name: string): boolean {
  const file = path.join(projectRoot, `Pulumi.${name}.yaml`);
  const config =
    (yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | undefined)?.config ??
    {};
  return effectiveConfig(name, config).kubernetes.controlPlane.length > 0;
}

export function drillTests(group: "etcd-0" | "etcd-1" | "kubernetes"): void {
  const etcd = Object.keys(drills).filter((n) => !isKubernetesDrill(n));
  const names =
    group === "kubernetes"
      ? Object.keys(drills).filter(isKubernetesDrill)
      : etcd.filter((_, i) => i % 2 === (group === "etcd-0" ? 0 : 1));
  describe.each(names)("drill %s", (name) => {
    it("passes on the local lab, with no acknowledged write lost", async () => {
      const { record, reportFile } = await runDrill(drills[name]!);
      process.stdout.write(`drill ${name}: ${record.outcome}, report ${reportFile}\n`);
      expect(record.outcome).toBe("passed");
      expect(record.missing).toEqual([]);
    });
  });
}
