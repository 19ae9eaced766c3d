import { applyChanges, changeCommands, effectiveConfig } from "./runner";

describe("drill steps as config changes", () => {
  it("replaces top-level keys and sets paths inside objects", () => {
    const base = { "real-world-kubernetes:etcdMembers": ["core-01"] };
    expect(
      applyChanges(base, { etcdMembers: ["core-01", "core-02"], "hostStates.core-01": "destroyed" }),
    ).toEqual({
      "real-world-kubernetes:etcdMembers": ["core-01", "core-02"],
      "real-world-kubernetes:hostStates": { "core-01": "destroyed" },
    });
    expect(base).toEqual({ "real-world-kubernetes:etcdMembers": ["core-01"] });
  });

  it("tells a user the pulumi config commands for the same change", () => {
    expect(
      changeCommands({ etcdMembers: ["core-01", "core-02"], "hostStates.core-02": "stopped", etcdTls: "on" }),
    ).toEqual([
      "pulumi config rm etcdMembers",
      "pulumi config set --path 'etcdMembers[0]' core-01",
      "pulumi config set --path 'etcdMembers[1]' core-02",
      "pulumi config set --path hostStates.core-02 stopped",
      "pulumi config set etcdTls on",
    ]);
  });

  it("validates a drill's config exactly as the program does", () => {
    expect(effectiveConfig("member-failure", { "real-world-kubernetes:etcdMembers": ["core-01"] }).lab).toBe(
      "rwk-member-failure",
    );
    expect(() =>
      effectiveConfig("member-failure", { "real-world-kubernetes:etcdMembers": ["core-01", "core-09"] }),
    ).toThrow(/etcdMembers\[1\]: "core-09" is not a host/);
  });
});
