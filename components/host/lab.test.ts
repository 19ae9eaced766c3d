// The Lab under Pulumi mocks: what its switch and machines are given, for each local driver.
import type * as pulumi from "@pulumi/pulumi";
import type { RawConfig } from "../../config";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const project = "real-world-kubernetes";
const core = (n: number) => ({ name: `core-0${n}`, address: `172.17.8.10${n}` });

/** Registers a Lab for the config, in a module registry of its own, and returns what reached the engine. */
async function registerLab(raw: RawConfig, stack = "dev"): Promise<Map<string, Registered>> {
  const registered = new Map<string, Registered>();
  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      const inputs = args.inputs as Record<string, unknown>;
      registered.set(args.name, { type: args.type, name: args.name, inputs });
      const state: Record<string, unknown> = { ...inputs };
      if (args.type === "tls:index/privateKey:PrivateKey")
        Object.assign(state, { publicKeyOpenssh: "ssh-ed25519 AAAA test", privateKeyOpenssh: "PRIVATE" });
      if (args.type === "pulumi-nodejs:dynamic/rwk:Machine")
        Object.assign(state, { sshPort: 2222, machineId: "id" });
      return { id: `${args.name}-id`, state };
    },
    call: (args) => args.inputs as Record<string, unknown>,
  };
  let ready: Promise<void> = Promise.resolve();
  jest.isolateModules(() => {
    const sdk = require("@pulumi/pulumi") as typeof pulumi;
    ready = sdk.runtime.setMocks(mocks, project, stack, false);
    const { validateConfig } = require("../../config") as typeof import("../../config");
    const { Lab } = require("./lab") as typeof import("./lab");
    const config = validateConfig(
      { etcdMembers: [], allowDataLoss: stack, ...raw },
      {
        project,
        stack,
      },
    );
    new Lab("lab", { config });
  });
  await ready;
  // Let every registration (they happen as Outputs resolve) reach the mock.
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
  return registered;
}

/** Inputs as the provider compares them: without the serialized provider itself. */
function inputsOf(rs: Map<string, Registered>, name: string): Record<string, unknown> {
  const inputs = { ...rs.get(name)!.inputs };
  delete inputs["__provider"];
  return inputs;
}

const drivers = ["machines", "vagrant"] as const;
/** Per driver, the lab of three hosts and the same lab with a fourth. */
const labs = {} as Record<
  (typeof drivers)[number],
  { three: Map<string, Registered>; four: Map<string, Registered> }
>;

beforeAll(async () => {
  for (const driver of drivers) {
    labs[driver] = {
      three: await registerLab({ driver, hosts: [1, 2, 3].map(core) }),
      four: await registerLab({ driver, hosts: [1, 2, 3, 4].map(core) }),
    };
  }
});

describe("Lab", () => {
  it.each(drivers)("names the %s driver to the switch and each machine, never a script's path", (driver) => {
    const rs = labs[driver].three;
    expect(inputsOf(rs, "lab-switch")).toMatchObject({ driver, lab: "rwk-dev", subnet: "172.17.8.0/24" });
    expect(inputsOf(rs, "lab-core-01-machine")).toMatchObject({ driver, host: "core-01" });
    for (const name of ["lab-switch", "lab-core-01-machine"])
      expect(inputsOf(rs, name)).not.toHaveProperty("script");
  });

  it("gives the machines driver no driver configuration", () => {
    const rs = labs.machines.three;
    expect(inputsOf(rs, "lab-switch")).not.toHaveProperty("driverConfig");
    expect(inputsOf(rs, "lab-core-01-machine")).not.toHaveProperty("driverConfig");
  });

  it("gives the vagrant switch the lab's part of the Vagrantfile and each machine its own part", () => {
    const rs = labs.vagrant.three;
    const lab = String(inputsOf(rs, "lab-switch")["driverConfig"]);
    expect(lab).toContain('config.vm.box = "rwk/bookworm"');
    expect(lab).not.toContain("config.vm.define");
    const part = String(inputsOf(rs, "lab-core-01-machine")["driverConfig"]);
    expect(part).toContain('config.vm.define "core-01"');
    expect(part).not.toContain("core-02");
  });

  it.each(drivers)("%s: adding a host changes neither the switch nor any other host", (driver) => {
    const { three, four } = labs[driver];
    expect(four.has("lab-core-04-machine")).toBe(true);
    for (const name of ["lab-switch", "lab-core-01-machine", "lab-core-02-machine", "lab-core-03-machine"]) {
      expect(inputsOf(four, name)).toEqual(inputsOf(three, name));
    }
  });
});
