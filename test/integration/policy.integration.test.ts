// The safety rules at preview time (policy/): `./rwk pulumi` as a user types it, with the rwk-safety pack
// it adds to a preview or an up, on a real lab stack. A dangerous change is refused at preview, naming the
// resource, the rule and what to do instead, and an up of it changes nothing; the same change with the rule
// turned down to advisory in a policy config passes with the warning. A stack at rest passes every rule.
import * as fs from "fs";
import * as path from "path";
import { projectRoot } from "../../workstation/lab";
import { CliStack } from "./cli-stack";

const stack = new CliStack("policy-it", [path.join(projectRoot, "rwk"), "pulumi"], 600_000);
/** `./rwk pulumi <args>` on the test's stack: what it printed and its exit code. */
const rwk = (...args: string[]) => stack.run(...args);
const rwkOk = (...args: string[]) => stack.ok(...args);
const configure = (config: Record<string, unknown>) => stack.configure(config);

/** A preview with the pack at the repository's levels but this rule's turned down to advisory. */
function previewTurnedDown(rule: string): ReturnType<typeof rwk> {
  const file = path.join(stack.scratch, `policy-config-${rule}.json`);
  const levels = JSON.parse(fs.readFileSync(path.join(projectRoot, "policy-config.json"), "utf8")) as object;
  fs.writeFileSync(file, JSON.stringify({ ...levels, [rule]: "advisory" }));
  return rwk("preview", "--policy-pack", path.join(projectRoot, "policy"), "--policy-pack-config", file);
}

/** The policy violations of a preview or an up as the CLI lists them: "[level]  rule  (type: name)" lines. */
function violations(out: string): string[] {
  return out
    .split("\n")
    .map((l) => /^\s+- \[(mandatory|advisory)\]\s+(\S+)\s+\((\S+: \S+)\)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]} (${m[3]})`);
}

beforeAll(() => {
  rwkOk("stack", "init");
});

afterAll(() => stack.remove());

describe("the safety rules at preview time, through ./rwk pulumi", () => {
  it("passes a stack at rest, and warns of what is advisory: the member set's backups", () => {
    configure({ etcdMembers: ["core-01"] });
    const { out } = rwkOk("up", "--yes");
    expect(out).toMatch(/Policies:/);
    // Once for the preview, once for the update.
    expect(new Set(violations(out))).toEqual(new Set(["advisory recent-backup (rwk:etcd:Cluster: etcd)"]));
    expect(out).toMatch(/no etcd backup taken in the last 24 h \(the stack holds none\)/);
  }, 600_000);

  it("refuses membership changes that cannot chain, and lets them through as advisory", () => {
    configure({ etcdMembers: ["core-02", "core-03"] });
    const refused = rwk("preview");
    expect(refused.code).not.toBe(0);
    expect(violations(refused.out)).toContain("mandatory etcd-membership-chain (rwk:etcd:Cluster: etcd)");
    expect(refused.out).toMatch(
      /3 membership changes \(adds: core-02, core-03; removes: core-01\) replace every member at once/,
    );

    // Typed with the stack before the verb, the preview still gets the rules.
    const flagsFirst = stack.typed("--stack", stack.name, "--non-interactive", "preview");
    expect(flagsFirst.code).not.toBe(0);
    expect(violations(flagsFirst.out)).toContain("mandatory etcd-membership-chain (rwk:etcd:Cluster: etcd)");

    configure({ etcdMembers: ["core-01", "core-02", "core-03"], etcdLearner: false });
    const voters = rwk("preview");
    expect(voters.code).not.toBe(0);
    expect(voters.out).toMatch(
      /with etcdLearner false: .* set etcdLearner true, or add one member per update/,
    );

    const advisory = previewTurnedDown("etcd-membership-chain");
    expect(advisory.code).toBe(0);
    expect(violations(advisory.out)).toContain("advisory etcd-membership-chain (rwk:etcd:Cluster: etcd)");
  }, 600_000);

  it("refuses a removal below a healthy quorum at preview, and an up of it changes nothing", () => {
    configure({ etcdMembers: ["core-01", "core-02", "core-03"] });
    rwkOk("up", "--yes");
    const before = stack.resources();

    // core-02's host stops in the same update: after core-03 leaves, one of the two left is healthy.
    configure({ etcdMembers: ["core-01", "core-02"], hostStates: { "core-02": "stopped" } });
    const preview = rwk("preview");
    expect(preview.code).not.toBe(0);
    expect(violations(preview.out)).toContain("mandatory etcd-quorum-on-removal (rwk:etcd:Cluster: etcd)");
    expect(preview.out).toMatch(
      /removing core-03 leaves 2 voting members with 1 healthy, below quorum 2 \(core-02's host is stopped \(hostStates.core-02\)\)/,
    );
    const up = rwk("up", "--yes");
    expect(up.code).not.toBe(0);
    expect(violations(up.out)).toContain("mandatory etcd-quorum-on-removal (rwk:etcd:Cluster: etcd)");
    expect(stack.resources()).toEqual(before);

    // Turned down, the same preview passes and warns; the pair it leaves is warned of too.
    const advisory = previewTurnedDown("etcd-quorum-on-removal");
    expect(advisory.code).toBe(0);
    expect(violations(advisory.out)).toEqual(
      expect.arrayContaining([
        "advisory etcd-quorum-on-removal (rwk:etcd:Cluster: etcd)",
        "advisory etcd-odd-member-count (rwk:etcd:Cluster: etcd)",
      ]),
    );
  }, 900_000);
});
