// The Machine's pure planning, and its dynamic provider with the driver mocked: what each diff decides and
// which driver calls each change makes, state recorded before drivers were named included.
jest.mock("./driver", () => ({
  ...jest.requireActual<typeof import("./driver")>("./driver"),
  runDriver: jest.fn(),
}));
import type * as pulumi from "@pulumi/pulumi";
import { runDriver } from "./driver";
import { hostState, machineProvider, transition } from "./machine";
import type { MachineState, RecordedMachine } from "./machine";

const driver = jest.mocked(runDriver);
const provider = machineProvider as Required<pulumi.dynamic.ResourceProvider>;

const inputs: MachineState = {
  driver: "machines",
  lab: "rwk-dev",
  host: "core-01",
  address: "172.17.8.101",
  publicKey: "ssh-ed25519 AAAA key-a",
  state: "running",
  // Outputs: what the driver reported last.
  status: "running",
  sshPort: 24880,
  machineId: "id-1",
};
/** The same machine as state written before drivers were named holds it. */
const legacy: RecordedMachine = { ...inputs, script: "lab/machines.sh" };
delete legacy.driver;

beforeEach(() => {
  driver.mockReset();
  let boot = 1;
  driver.mockImplementation((_driver, args) => {
    if (args[0] === "create") boot++;
    return Promise.resolve(
      args[0] === "info"
        ? JSON.stringify({ status: "running", sshPort: 24880, machineId: `id-${boot}` })
        : "",
    );
  });
});

describe("transition", () => {
  it.each([
    ["running", "running", []],
    ["stopped", "running", ["start"]],
    ["destroyed", "running", ["create"]],
    ["running", "stopped", ["stop"]],
    ["destroyed", "stopped", ["create", "stop"]],
    ["running", "destroyed", ["destroy"]],
    ["stopped", "destroyed", ["destroy"]],
    ["destroyed", "destroyed", []],
  ] as const)("%s → %s: %j", (from, to, steps) => {
    expect(transition(from, to)).toEqual(steps);
  });
});

describe("hostState", () => {
  it.each([
    ["running", "running"],
    ["stopped", "stopped"],
    ["absent", "destroyed"],
    ["", "destroyed"],
  ] as const)("driver status %j reads %s", (status, state) => {
    expect(hostState(status)).toBe(state);
  });
});

describe("machine provider: diff", () => {
  // What an update keeps, so that a preview shows its dependents unchanged.
  const stables = ["sshPort", "machineId"];
  const diff = (olds: RecordedMachine, news: Partial<MachineState> = {}) =>
    provider.diff("rwk-dev/core-01", olds, { ...inputs, ...news });

  it("sees no change when nothing changed", async () => {
    expect(await diff(inputs)).toEqual({ changes: false, replaces: [], stables, deleteBeforeReplace: true });
  });

  it("replaces the machine for another driver, lab, host name or address", async () => {
    for (const [key, value] of [
      ["driver", "vagrant"],
      ["lab", "rwk-other"],
      ["host", "core-09"],
      ["address", "172.17.8.109"],
    ] as const) {
      expect(await diff(inputs, { [key]: value })).toEqual({
        changes: true,
        replaces: [key],
        stables,
        deleteBeforeReplace: true,
      });
    }
  });

  it("updates in place for a new desired state, key or driver configuration", async () => {
    for (const news of [
      { state: "stopped" },
      { publicKey: "ssh-ed25519 AAAA key-b" },
      { driverConfig: "part" },
    ] as const) {
      expect(await diff(inputs, news)).toEqual({
        changes: true,
        replaces: [],
        stables,
        deleteBeforeReplace: true,
      });
    }
  });

  it("promises a stable machine-id, for a preview, unless the update creates a fresh machine", async () => {
    expect(await diff({ ...inputs, status: "destroyed" })).toEqual({
      changes: true,
      replaces: [],
      stables: ["sshPort"],
      deleteBeforeReplace: true,
    });
  });

  it("keeps a machine recorded with its script's path, updating it in place to the driver's name", async () => {
    expect(await diff(legacy)).toEqual({ changes: true, replaces: [], stables, deleteBeforeReplace: true });
    expect(await diff({ ...legacy, script: "lab/vagrant.sh" })).toEqual({
      changes: true,
      replaces: ["driver"],
      stables,
      deleteBeforeReplace: true,
    });
  });
});

describe("machine provider: converge", () => {
  it("updates a machine recorded with its script's path without a driver call", async () => {
    const outs: unknown = (await provider.update("rwk-dev/core-01", legacy, inputs)).outs;
    expect(driver).not.toHaveBeenCalled();
    expect(outs).toEqual(inputs);
    expect(outs).not.toHaveProperty("script");
  });

  it("creates a machine with its key and driver configuration, then reads what it is", async () => {
    const created = await provider.create({ ...inputs, driver: "vagrant", driverConfig: "core-01's part" });
    expect(created.id).toBe("rwk-dev/core-01");
    expect(created.outs).toMatchObject({ status: "running", sshPort: 24880, machineId: "id-2" });
    const [name, args, config] = driver.mock.calls[0]!;
    expect([name, args.slice(0, 4), config]).toEqual([
      "vagrant",
      ["create", "rwk-dev", "core-01", "172.17.8.101"],
      "core-01's part",
    ]);
    // A first create has no port to keep.
    expect(args).toHaveLength(5);
    expect(driver.mock.calls[1]![1]).toEqual(["info", "rwk-dev", "core-01"]);
  });

  it("stops and starts a machine by name, with its driver configuration", async () => {
    const stopped = (await provider.update("id", inputs, { ...inputs, state: "stopped", driverConfig: "c" }))
      .outs as MachineState;
    expect(driver.mock.calls[0]).toEqual(["machines", ["stop", "rwk-dev", "core-01"], "c"]);
    expect(stopped.status).toBe("stopped");
    driver.mockClear();
    await provider.update("id", stopped, { ...inputs, driverConfig: "c" });
    expect(driver.mock.calls[0]).toEqual(["machines", ["start", "rwk-dev", "core-01"], "c"]);
  });

  it("brings a destroyed machine back as a fresh one on its old SSH port", async () => {
    const destroyed = (await provider.update("id", inputs, { ...inputs, state: "destroyed" }))
      .outs as MachineState;
    expect(driver.mock.calls).toEqual([["machines", ["destroy", "rwk-dev", "core-01"], undefined]]);
    expect(destroyed).toMatchObject({ status: "destroyed", sshPort: 24880, machineId: "id-1" });
    driver.mockClear();
    const back = (await provider.update("id", destroyed, inputs)).outs as MachineState;
    const args = driver.mock.calls[0]![1];
    expect(args[0]).toBe("create");
    expect(args[5]).toBe("24880");
    expect(back).toMatchObject({ status: "running", sshPort: 24880, machineId: "id-2" });
  });

  it("refuses a new key for a machine that is not rebuilt", async () => {
    await expect(
      provider.update("id", inputs, { ...inputs, publicKey: "ssh-ed25519 AAAA key-b" }),
    ).rejects.toThrow("the SSH key of core-01 changed: set it destroyed, then running");
    expect(driver).not.toHaveBeenCalled();
  });

  it("reads a machine's status from the driver and deletes it by name", async () => {
    driver.mockResolvedValue(JSON.stringify({ status: "absent" }));
    expect(await provider.read("rwk-dev/core-01", inputs)).toEqual({
      id: "rwk-dev/core-01",
      props: { ...inputs, status: "destroyed" },
    });
    expect(driver).toHaveBeenLastCalledWith("machines", ["info", "rwk-dev", "core-01"]);
    await provider.delete("rwk-dev/core-01", inputs);
    expect(driver).toHaveBeenLastCalledWith("machines", ["destroy", "rwk-dev", "core-01"]);
  });
});
