// A machine whose life is driven by a lab driver script (lab/machines.sh, lab/vagrant.sh). The resource
// stays in state through every desired state, destroyed included, so a host that comes back is visibly
// a *fresh* machine (new machineId) while its SSH endpoint stays the same.
import * as pulumi from "@pulumi/pulumi";
import type { HostState } from "../../config";
import { runDriver, writeTempKey } from "./driver";

export interface MachineArgs {
  /** Driver script, relative to the project root (the dynamic provider runs there). */
  script: pulumi.Input<string>;
  lab: pulumi.Input<string>;
  host: pulumi.Input<string>;
  address: pulumi.Input<string>;
  /** OpenSSH public key authorized for root on the machine. */
  publicKey: pulumi.Input<string>;
  state: pulumi.Input<HostState>;
  /** Driver-specific configuration text, given to the driver as RWK_DRIVER_CONFIG (vagrant: the Vagrantfile). */
  driverConfig?: pulumi.Input<string>;
}

/** What the driver reports; `status` is what the machine *is*, `state` what was asked. */
export interface MachineState {
  script: string;
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

/** Inputs whose change cannot be applied to the same machine. */
export const replaceKeys = ["script", "lab", "host", "address"] as const;

// Dynamic providers are serialized into the state and run later by the engine; the functions they call
// are serialized with them, so they take everything as arguments and require their modules themselves.
const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: MachineState) {
    const never: MachineState = { ...inputs, status: "destroyed", sshPort: 0, machineId: "" };
    return { id: `${inputs.lab}/${inputs.host}`, outs: await converge(never, inputs) };
  },

  async read(id: string, props: MachineState) {
    const info = JSON.parse(await runDriver(props.script, ["info", props.lab, props.host])) as {
      status: string;
      machineId?: string;
    };
    return { id, props: { ...props, status: hostState(info.status) } };
  },

  diff(_id: string, olds: MachineState, news: MachineState) {
    const replaces = replaceKeys.filter((k) => olds[k] !== news[k]);
    const changes =
      replaces.length > 0 ||
      olds.status !== news.state ||
      olds.publicKey !== news.publicKey ||
      // Takes effect at the machine's next create or start; recorded now so the state says what it runs.
      (olds.driverConfig ?? "") !== (news.driverConfig ?? "");
    return Promise.resolve({ changes, replaces: [...replaces], deleteBeforeReplace: true });
  },

  async update(_id: string, olds: MachineState, news: MachineState) {
    return { outs: await converge(olds, news) };
  },

  async delete(_id: string, props: MachineState) {
    await runDriver(props.script, ["destroy", props.lab, props.host]);
  },
};

async function converge(olds: MachineState, news: MachineState): Promise<MachineState> {
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
        await runDriver(news.script, args, news.driverConfig);
      } finally {
        keyFile.remove();
      }
    } else {
      await runDriver(news.script, [step, news.lab, news.host], news.driverConfig);
    }
    if (step !== "destroy") {
      const info = JSON.parse(await runDriver(news.script, ["info", news.lab, news.host])) as {
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
      provider,
      name,
      { ...args, status: undefined, sshPort: undefined, machineId: undefined },
      opts,
      "rwk",
      "Machine",
    );
  }
}
