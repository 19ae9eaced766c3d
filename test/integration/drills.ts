// Runs drills for real (the drill runner: real engine, real lab, real etcdctl) and fails on any failed
// check. The drills are split over two test files so that jest can run two labs side by side.
import { drills } from "../../drills/index";
import { runDrill } from "../../drills/runner";

export function drillTests(half: 0 | 1): void {
  const names = Object.keys(drills).filter((_, i) => i % 2 === half);
  describe.each(names)("drill %s", (name) => {
    it("passes on the local lab, with no acknowledged write lost", async () => {
      const { record, reportFile } = await runDrill(drills[name]!);
      process.stdout.write(`drill ${name}: ${record.outcome}, report ${reportFile}\n`);
      expect(record.outcome).toBe("passed");
      expect(record.missing).toEqual([]);
    });
  });
}
