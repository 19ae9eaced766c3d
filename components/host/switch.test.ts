// The Switch provider's driver calls, with the driver mocked: who owns the lab, at each step of its life.
jest.mock("./driver", () => ({
  ...jest.requireActual<typeof import("./driver")>("./driver"),
  runDriver: jest.fn(),
}));
import type * as pulumi from "@pulumi/pulumi";
import { runDriver } from "./driver";
import { ownerInfo, switchProvider, type RecordedSwitch, type SwitchState } from "./switch";

const driver = jest.mocked(runDriver);
const provider = switchProvider as Required<pulumi.dynamic.ResourceProvider>;
const inputs: SwitchState = {
  driver: "machines",
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
    const [name, args] = driver.mock.calls[0]!;
    expect(name).toBe("machines");
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
    expect(driver).toHaveBeenLastCalledWith("machines", ["switch-down", "rwk-dev", "token-a"]);

    driver.mockResolvedValue("up");
    expect(await provider.read("rwk-dev", owned)).toEqual({ id: "rwk-dev", props: owned });
    expect(driver).toHaveBeenLastCalledWith("machines", ["switch-status", "rwk-dev", "token-a"]);
    driver.mockResolvedValue("foreign");
    expect(await provider.read("rwk-dev", owned)).toEqual({ id: "", props: {} });
    driver.mockResolvedValue("down");
    expect(await provider.read("rwk-dev", owned)).toEqual({ id: "", props: {} });
  });

  it("a switch with an owner changes only when driver, lab or subnet do", async () => {
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
    const legacy = { driver: inputs.driver, lab: inputs.lab, subnet: inputs.subnet } as SwitchState;
    expect(await provider.diff("rwk-dev", legacy, inputs)).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: true,
    });
    const owner = ((await provider.update("rwk-dev", legacy, inputs)).outs as SwitchState).owner!;
    expect(owner).toMatch(uuid);
    expect(driver.mock.calls[0]![1].slice(0, 4)).toEqual(["switch-adopt", "rwk-dev", "172.17.8.0/24", owner]);

    await provider.delete("rwk-dev", legacy);
    expect(driver).toHaveBeenLastCalledWith("machines", ["switch-down", "rwk-dev"]);
    driver.mockResolvedValue("up");
    await provider.read("rwk-dev", legacy);
    expect(driver).toHaveBeenLastCalledWith("machines", ["switch-status", "rwk-dev"]);
  });

  it("keeps a switch recorded with its script's path, updating it in place to the driver's name", async () => {
    const recorded: RecordedSwitch = {
      script: "lab/machines.sh",
      lab: inputs.lab,
      subnet: inputs.subnet,
      stack: "dev",
      owner: "token-a",
    };
    expect(await provider.diff("rwk-dev", recorded, inputs)).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: true,
    });
    expect(await provider.diff("rwk-dev", { ...recorded, script: "lab/vagrant.sh" }, inputs)).toEqual({
      changes: true,
      replaces: ["driver"],
      deleteBeforeReplace: true,
    });
    expect((await provider.update("rwk-dev", recorded, inputs)).outs).toEqual({
      ...inputs,
      owner: "token-a",
    });
    expect(driver).not.toHaveBeenCalled();
  });

  it("hands the driver the lab's configuration at create, and a new one through its owner's switch-up", async () => {
    const vagrant: SwitchState = { ...inputs, driver: "vagrant", driverConfig: "lab part 1" };
    const owner = ((await provider.create(vagrant)).outs as SwitchState).owner!;
    expect(driver.mock.calls[0]![0]).toBe("vagrant");
    expect(driver.mock.calls[0]![2]).toBe("lab part 1");

    const owned = { ...vagrant, owner };
    const changed = { ...vagrant, driverConfig: "lab part 2" };
    expect(await provider.diff("rwk-dev", owned, vagrant)).toMatchObject({ changes: false });
    expect(await provider.diff("rwk-dev", owned, changed)).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: true,
    });
    driver.mockClear();
    expect((await provider.update("rwk-dev", owned, changed)).outs).toEqual({ ...changed, owner });
    expect(driver.mock.calls).toEqual([
      ["vagrant", ["switch-up", "rwk-dev", "172.17.8.0/24", owner], "lab part 2"],
    ]);
  });
});
