// The program's own stacks under mocks pass every resource policy: the args its components register are
// what the rules read, and a rule that refused a stack the drills run would stop them at preview.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadProgram } from "../test/unit/program-harness";
import { policies } from "./policies";
import { violationsOf } from "./harness";
import type { ResourceValidationPolicy } from "@pulumi/policy";

const cache = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-policy-test-cache-"));
fs.mkdirSync(path.join(cache, "kubernetes", "etcd-v3.6.16"), { recursive: true });
process.env["RWK_CACHE"] = cache;
afterAll(() => fs.rmSync(cache, { recursive: true, force: true }));

const resourcePolicies = policies.filter((x): x is ResourceValidationPolicy => "validateResource" in x);
const all = ["core-01", "core-02", "core-03"];

/** The resource policies' violations of a preview of this config, after an update that left these outputs. */
async function violations(config: Record<string, unknown>, last: Record<string, unknown> = {}) {
  const { resources } = await loadProgram(config, "dev", [], last, true);
  const found: string[] = [];
  for (const r of resources)
    for (const policy of resourcePolicies)
      found.push(...(await violationsOf(policy, r.type, r.name, r.inputs)));
  return { found, types: new Set(resources.map((r) => r.type)) };
}

describe("the program's stacks against the resource policies", () => {
  it("passes growing 1 → 3 members, and the components carry what the rules read", async () => {
    const { found, types } = await violations(
      { etcdMembers: all },
      { deployed: { etcdVersion: "3.6.16", etcdMembers: ["core-01"] } },
    );
    expect(found).toEqual([]);
    for (const t of ["rwk:etcd:Cluster", "rwk:etcd:Member", "rwk:pki:Certificate"])
      expect(types).toContain(t);
  });

  it("refuses removing healthy core-02 while core-01 is destroyed (the member-failure drill's refused step)", async () => {
    const { found } = await violations(
      { etcdMembers: ["core-01", "core-03"], hostStates: { "core-01": "destroyed" } },
      { deployed: { etcdVersion: "3.6.16", etcdMembers: all } },
    );
    expect(found).toEqual([
      expect.stringContaining("removing core-02 leaves 2 voting members with 1 healthy"),
    ]);
  });

  it("gives a component the last update's record in a preview of a change only: at rest its args stay", async () => {
    const cluster = async (preview: boolean, deployed: Record<string, unknown>, config = {}) => {
      const run = await loadProgram({ etcdMembers: all, ...config }, "dev", [], { deployed }, preview);
      return run.resources.find((r) => r.type === "rwk:etcd:Cluster")!.inputs;
    };
    const atRest = { etcdVersion: "3.6.16", etcdMembers: all };
    const growing = { etcdVersion: "3.6.16", etcdMembers: ["core-01"] };
    expect(await cluster(true, growing)).toMatchObject({ members: all, deployedMembers: ["core-01"] });
    expect(await cluster(false, growing)).not.toHaveProperty("deployedMembers");
    expect(await cluster(true, atRest)).toEqual(await cluster(false, atRest));
    expect(await cluster(true, atRest)).not.toHaveProperty("deployedMembers");
    // A host stopping is no change of the cluster's args (the hosts' states come with a pending change).
    const stopped = { hostStates: { "core-02": "stopped" } };
    expect(await cluster(true, atRest, stopped)).toEqual(await cluster(false, atRest));
    expect(await cluster(true, growing, stopped)).toMatchObject({ hostStates: { "core-02": "stopped" } });
  });
});
