// A machine whose life is driven by a lab driver (lab/drivers/: machines.sh, vagrant.sh). The resource
// stays in state through every desired state, destroyed included, so a host that comes back is visibly
// a *fresh* machine (new machineId) while its SSH endpoint stays the same.
import * as pulumi from "@pulumi/pulumi";
import type { HostState } from "../../config";
import { driverOf, runDriver, writeTempKey } from "./driver";
import type { LocalDriver, RecordedDriver } from "./driver";

export interface MachineArgs {
  /** The lab driver that runs the machine, by name (its script is found when the provider runs). */
  driver: pulumi.Input<LocalDriver>;
  lab: pulumi.Input<string>;
  host: pulumi.Input<string>;
  address: pulumi.Input<string>;
  /** OpenSSH public key authorized for root on the machine. */
  publicKey: pulumi.Input<string>;
  state: pulumi.Input<HostState>;
  /**
   * Driver-specific configuration of this machine alone, given to the driver as RWK_DRIVER_CONFIG (vagrant:
   * the host's part of the lab's Vagrantfile).
   */
  driverConfig?: pulumi.Input<string>;
}

/** What the driver reports; `status` is what the machine *is*, `state` what was asked. */
export interface MachineState {
  driver: LocalDriver;
  lab: string;
  host: string;
  address: string;
  publicKey: string;
  state: HostState;
  driverConfig?: string;
  status: HostState;
  sshPort: number;
  machineId: string;
}

/** Plans the driver calls that take a machine from what it is to what is asked. Pure, for tests. */
export function transition(
  status: HostState,
  wanted: HostState,
): ("create" | "start" | "stop" | "destroy")[] {
  if (status === wanted) return [];
  switch (wanted) {
    case "running":
      return status === "stopped" ? ["start"] : ["create"];
    case "stopped":
      return status === "running" ? ["stop"] : ["create", "stop"];
    case "destroyed":
      return ["destroy"];
  }
}

/**
 * What a machine is, from the status in the driver's info (running | stopped | absent). The driver
 * follows the machine itself, not whatever supervises it: a machine whose supervisor was killed but
 * which still serves is running. A machine that vanished behind our back is destroyed (or stopped, if
 * its disk is still there), so the next `up` brings it back instead of later commands hanging on an
 * unreachable host. Pure, for tests.
 */
export function hostState(driverStatus: string): HostState {
  return driverStatus === "running" || driverStatus === "stopped" ? driverStatus : "destroyed";
}

/** A machine as state may hold it: written before drivers were named, it has the script's path instead. */
export type RecordedMachine = Omit<MachineState, "driver"> & RecordedDriver;

/** Inputs whose change cannot be applied to the same machine. */
export const replaceKeys = ["driver", "lab", "host", "address"] as const;

// Dynamic providers are serialized into the state and run later by the engine; the functions they call
// are serialized with them, so they take everything as arguments and require their modules themselves.
/** The Machine's dynamic provider; exported for tests. */
export const machineProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: MachineState) {
    const never: MachineState = { ...inputs, status: "destroyed", sshPort: 0, machineId: "" };
    return { id: `${inputs.lab}/${inputs.host}`, outs: await converge(never, inputs) };
  },

  async read(id: string, props: MachineState) {
    const info = JSON.parse(await runDriver(props.driver, ["info", props.lab, props.host])) as {
      status: string;
      machineId?: string;
    };
    return { id, props: { ...props, status: hostState(info.status) } };
  },

  diff(_id: string, olds: RecordedMachine, news: MachineState) {
    const was = { ...olds, driver: driverOf(olds) };
    const replaces = replaceKeys.filter((k) => was[k] !== news[k]);
    const changes =
      replaces.length > 0 ||
      olds.status !== news.state ||
      olds.publicKey !== news.publicKey ||
      // Takes effect at the machine's next create or start; recorded now so the state says what it runs.
      (olds.driverConfig ?? "") !== (news.driverConfig ?? "") ||
      // State recorded with a script's path: a diff without changes would keep it, and the provider code
      // kept beside it, which refresh and delete run, on a path that is gone. The update calls no driver
      // (converge has no step to take).
      olds.driver === undefined;
    // What an update keeps, so that a preview shows what depends on it unchanged: the SSH port always
    // (a host that comes back keeps it), the machine-id unless the update creates a fresh machine.
    const stables = [
      "sshPort",
      ...(transition(olds.status, news.state).includes("create") ? [] : ["machineId"]),
    ];
    return Promise.resolve({ changes, replaces: [...replaces], stables, deleteBeforeReplace: true });
  },

  async update(_id: string, olds: RecordedMachine, news: MachineState) {
    return { outs: await converge(olds, news) };
  },

  async delete(_id: string, props: MachineState) {
    await runDriver(props.driver, ["destroy", props.lab, props.host]);
  },
};

async function converge(olds: RecordedMachine, news: MachineState): Promise<MachineState> {
  let { status, sshPort, machineId } = olds;
  const steps = transition(status, news.state);
  if (steps.length === 0 && olds.publicKey !== news.publicKey && status !== "destroyed") {
    throw new Error(
      `the SSH key of ${news.host} changed: set it destroyed, then running, to rebuild it with the new key`,
    );
  }
  for (const step of steps) {
    if (step === "create") {
      const keyFile = writeTempKey(news.publicKey);
      // Reusing the previous forward port keeps every SSH connection that depends on this host unchanged.
      const args = [
        "create",
        news.lab,
        news.host,
        news.address,
        keyFile.path,
        ...(sshPort > 0 ? [String(sshPort)] : []),
      ];
      try {
        await runDriver(news.driver, args, news.driverConfig);
      } finally {
        keyFile.remove();
      }
    } else {
      await runDriver(news.driver, [step, news.lab, news.host], news.driverConfig);
    }
    if (step !== "destroy") {
      const info = JSON.parse(await runDriver(news.driver, ["info", news.lab, news.host])) as {
        sshPort: number;
        machineId: string;
      };
      ({ sshPort, machineId } = info);
    }
    status = step === "stop" ? "stopped" : step === "destroy" ? "destroyed" : "running";
  }
  return { ...news, status, sshPort, machineId };
}

/** One lab machine; see the file comment. */
export class Machine extends pulumi.dynamic.Resource {
  declare public readonly status: pulumi.Output<HostState>;
  declare public readonly sshPort: pulumi.Output<number>;
  declare public readonly machineId: pulumi.Output<string>;

  constructor(name: string, args: MachineArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      machineProvider,
      name,
      { ...args, status: undefined, sshPort: undefined, machineId: undefined },
      opts,
      "rwk",
      "Machine",
    );
  }
}
