// The Switch provider's driver calls, with the driver mocked: who owns the lab, at each step of its life.
jest.mock("./driver", () => ({
  ...jest.requireActual<typeof import("./driver")>("./driver"),
  runDriver: jest.fn(),
}));
import type * as pulumi from "@pulumi/pulumi";
import { runDriver } from "./driver";
import { ownerInfo, switchProvider, type SwitchState } from "./switch";

const driver = jest.mocked(runDriver);
const provider = switchProvider as Required<pulumi.dynamic.ResourceProvider>;
const inputs: SwitchState = {
  script: "lab/machines.sh",
  lab: "rwk-dev",
  subnet: "172.17.8.0/24",
  stack: "dev",
};
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

beforeEach(() => {
  driver.mockReset();
  driver.mockResolvedValue("");
});

describe("ownerInfo", () => {
  it("names the stack, its directory and since when", () => {
    expect(ownerInfo("dev", "/work/main", new Date(Date.UTC(2026, 10, 25, 10, 0, 0)))).toBe(
      "stack dev in /work/main, since 2026-11-25T10:00:00.000Z",
    );
  });
});

describe("switch provider", () => {
  it("create claims the lab with a new owner token and records it", async () => {
    const first = await provider.create(inputs);
    const second = await provider.create(inputs);
    expect(first.id).toBe("rwk-dev");
    const owner = (first.outs as SwitchState).owner!;
    expect(owner).toMatch(uuid);
    expect((second.outs as SwitchState).owner).not.toBe(owner);
    const [script, args] = driver.mock.calls[0]!;
    expect(script).toBe("lab/machines.sh");
    expect(args.slice(0, 4)).toEqual(["switch-up", "rwk-dev", "172.17.8.0/24", owner]);
    expect(args[4]).toMatch(new RegExp(`^stack dev in ${process.cwd()}, since \\d{4}-`));
  });

  it("create records nothing when the driver refuses the lab", async () => {
    driver.mockRejectedValue(new Error("lab rwk-dev belongs to stack dev in /elsewhere"));
    await expect(provider.create(inputs)).rejects.toThrow("belongs to stack dev in /elsewhere");
  });

  it("delete and read act only on the lab this token owns", async () => {
    const owned = { ...inputs, owner: "token-a" };
    await provider.delete("rwk-dev", owned);
    expect(driver).toHaveBeenLastCalledWith("lab/machines.sh", ["switch-down", "rwk-dev", "token-a"]);

    driver.mockResolvedValue("up");
    expect(await provider.read("rwk-dev", owned)).toEqual({ id: "rwk-dev", props: owned });
    expect(driver).toHaveBeenLastCalledWith("lab/machines.sh", ["switch-status", "rwk-dev", "token-a"]);
    driver.mockResolvedValue("foreign");
    expect(await provider.read("rwk-dev", owned)).toEqual({ id: "", props: {} });
    driver.mockResolvedValue("down");
    expect(await provider.read("rwk-dev", owned)).toEqual({ id: "", props: {} });
  });

  it("a switch with an owner changes only when script, lab or subnet do", async () => {
    const owned = { ...inputs, owner: "token-a" };
    expect(await provider.diff("rwk-dev", owned, { ...inputs, stack: "renamed" })).toEqual({
      changes: false,
      replaces: [],
      deleteBeforeReplace: true,
    });
    expect(await provider.diff("rwk-dev", owned, { ...inputs, subnet: "10.0.0.0/24" })).toEqual({
      changes: true,
      replaces: ["subnet"],
      deleteBeforeReplace: true,
    });
  });

  it("a switch recorded before owners adopts its lab in place, and acts on it as before until then", async () => {
    const legacy = { script: inputs.script, lab: inputs.lab, subnet: inputs.subnet } as SwitchState;
    expect(await provider.diff("rwk-dev", legacy, inputs)).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: true,
    });
    const owner = ((await provider.update("rwk-dev", legacy, inputs)).outs as SwitchState).owner!;
    expect(owner).toMatch(uuid);
    expect(driver.mock.calls[0]![1].slice(0, 4)).toEqual(["switch-adopt", "rwk-dev", "172.17.8.0/24", owner]);

    await provider.delete("rwk-dev", legacy);
    expect(driver).toHaveBeenLastCalledWith("lab/machines.sh", ["switch-down", "rwk-dev"]);
    driver.mockResolvedValue("up");
    await provider.read("rwk-dev", legacy);
    expect(driver).toHaveBeenLastCalledWith("lab/machines.sh", ["switch-status", "rwk-dev"]);
  });
});
