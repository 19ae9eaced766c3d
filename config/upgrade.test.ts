import { deployedBy, pendingFacts, upgradeProblems, validateConfig } from "./index";
import type { RawConfig } from "./index";

const ctx = { project: "real-world-kubernetes", stack: "dev" };
const cluster: RawConfig = {
  etcdMembers: ["core-01", "core-02", "core-03"],
  controlPlane: ["core-01"],
  workers: ["core-02", "core-03"],
};
const refusals = (deployed: Parameters<typeof upgradeProblems>[0], raw: RawConfig) =>
  upgradeProblems(deployed, validateConfig({ ...cluster, ...raw }, ctx));

describe("upgradeProblems", () => {
  it("has nothing to say about a first update, or one that keeps the versions", () => {
    expect(refusals({}, { etcdVersion: "3.5.35", kubernetesVersion: "1.33.13" })).toEqual([]);
    const same = { etcdVersion: "3.6.16", kubernetesVersion: "1.34.4" };
    expect(refusals(same, { ...same, hostStates: { "core-02": "stopped" } })).toEqual([]);
  });

  it("lets etcd move up one minor, with every member running", () => {
    expect(refusals({ etcdVersion: "3.5.35" }, { etcdVersion: "3.6.16" })).toEqual([]);
  });

  it("refuses etcd going back a minor, saying what is allowed and how to go back", () => {
    expect(refusals({ etcdVersion: "3.6.16" }, { etcdVersion: "3.5.35" })).toEqual([
      "real-world-kubernetes:etcdVersion: 3.6.16 → 3.5.35 goes back a minor version (3.6 → 3.5): etcd's data carries the cluster version and an older member refuses to start on it; to go back, restore a backup taken at the older version (restore.from); allowed from 3.6.16: 3.6.16",
    ]);
  });

  it("refuses a skipped minor, for etcd and for the API servers", () => {
    const found = refusals(
      { etcdVersion: "3.4.30", kubernetesVersion: "1.32.9" },
      { etcdVersion: "3.6.16", kubernetesVersion: "1.34.4" },
    );
    expect(found).toEqual([
      "real-world-kubernetes:etcdVersion: 3.4.30 → 3.6.16 skips a minor version (3.4 → 3.6): etcd upgrades one minor version at a time; allowed from 3.4.30: 3.5.35",
      "real-world-kubernetes:kubernetesVersion: 1.32.9 → 1.34.4 skips a minor version (1.32 → 1.34): the version-skew policy moves the API servers one minor at a time; allowed from 1.32.9: 1.33.13",
    ]);
  });

  it("lets the API servers move up one minor with every host running, and refuses them going back", () => {
    expect(refusals({ kubernetesVersion: "1.33.13" }, { kubernetesVersion: "1.34.4" })).toEqual([]);
    expect(
      refusals(
        { kubernetesVersion: "1.33.13" },
        { kubernetesVersion: "1.34.4", hostStates: { "core-02": "stopped" } },
      ),
    ).toEqual([
      "real-world-kubernetes:kubernetesVersion: 1.33.13 → 1.34.4 rolls every member and host, one at a time, each healthy before the next: core-02 is stopped (hostStates.core-02); bring them back first",
    ]);
    const [back] = refusals({ kubernetesVersion: "1.34.4" }, { kubernetesVersion: "1.33.13" });
    expect(back).toMatch(
      /^real-world-kubernetes:kubernetesVersion: 1\.34\.4 → 1\.33\.13 goes back a minor version/,
    );
    expect(back).toContain("patch versions within a minor may go either way");
  });

  it("allows another patch of the same minor, either way", () => {
    expect(refusals({ kubernetesVersion: "1.34.9", etcdVersion: "3.6.20" }, {})).toEqual([]);
  });

  it("refuses a version change while a host or a member is not running, naming each", () => {
    expect(
      refusals(
        { etcdVersion: "3.5.35" },
        {
          etcdVersion: "3.6.16",
          hostStates: { "core-03": "destroyed" },
          etcdMemberStates: { "core-02": "stopped" },
        },
      ),
    ).toEqual([
      "real-world-kubernetes:etcdVersion: 3.5.35 → 3.6.16 rolls every member and host, one at a time, each healthy before the next: core-03 is destroyed (hostStates.core-03), core-02's etcd is stopped (etcdMemberStates.core-02); bring them back first",
    ]);
  });

  it("ignores a part the stack no longer runs", () => {
    expect(refusals({ kubernetesVersion: "1.32.0" }, { controlPlane: [], workers: [] })).toEqual([]);
  });
});

describe("deployedBy", () => {
  it("records the versions and members of what the config runs, and nothing of what it does not", () => {
    expect(deployedBy(validateConfig(cluster, ctx))).toEqual({
      etcdVersion: "3.6.16",
      etcdMembers: cluster.etcdMembers,
      kubernetesVersion: "1.34.4",
      controlPlane: cluster.controlPlane,
    });
    expect(deployedBy(validateConfig({}, ctx))).toEqual({ etcdVersion: "3.6.16", etcdMembers: ["core-01"] });
    expect(deployedBy(validateConfig({ etcdMembers: [], allowDataLoss: "dev" }, ctx))).toEqual({});
  });
});

describe("pendingFacts", () => {
  const context = { hostStates: { "core-02": "stopped" } };

  it("gives the record's side of each field that differs, with the context", () => {
    expect(
      pendingFacts(
        { deployedVersion: ["3.5.21", "3.6.16"], deployedMembers: [["core-01"], ["core-01"]] },
        context,
      ),
    ).toEqual({ deployedVersion: "3.5.21", ...context });
    expect(pendingFacts({ deployedMembers: [["core-01"], ["core-01", "core-02"]] }, context)).toEqual({
      deployedMembers: ["core-01"],
      ...context,
    });
  });

  it("gives nothing at rest, or with nothing recorded: the component's args stay as they were", () => {
    expect(pendingFacts({ deployedVersion: ["3.6.16", "3.6.16"] }, context)).toEqual({});
    expect(pendingFacts({ deployedVersion: [undefined, "3.6.16"] }, context)).toEqual({});
  });
});
