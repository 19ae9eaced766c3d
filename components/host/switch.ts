// The lab's layer-2 segment (the workshop's 172.17.8.0/24): a bridge in a network namespace of its own,
// so the workshop's addresses never touch the workstation's network.
//
// A lab belongs to exactly one stack. Lab names follow stack names, so two checkouts of one stack (two
// state backends) want the same lab, and as switch-up is idempotent the second one used to record the
// first one's switch as created by it, and delete it at its destroy. So create makes an owner token,
// kept in this resource's state and by the driver with the lab (lab/lib.sh, ownership): the driver
// refuses the lab to any other token, naming its owner (stack, directory, since when), and delete and
// refresh act only on the lab this token holds. Hosts get no token: they depend on the switch, so the
// engine creates none in a lab whose switch was refused, and a host that exists is never created over.
import * as pulumi from "@pulumi/pulumi";
import { driverOf, newOwnerToken, runDriver } from "./driver";
import type { LocalDriver, RecordedDriver } from "./driver";

export interface SwitchArgs {
  /** The lab driver, by name (its script is found when the provider runs). */
  driver: pulumi.Input<LocalDriver>;
  lab: pulumi.Input<string>;
  /** CIDR of the lab subnet; the switch takes its first address. */
  subnet: pulumi.Input<string>;
  /**
   * Driver-specific configuration of the whole lab, given to switch-up as RWK_DRIVER_CONFIG (vagrant: the
   * lab's part of the Vagrantfile, which every host's part joins). Absent for the machines driver.
   */
  driverConfig?: pulumi.Input<string>;
}

export interface SwitchState {
  driver: LocalDriver;
  lab: string;
  subnet: string;
  driverConfig?: string;
  /** The stack's name, for the line that tells others who owns the lab. */
  stack: string;
  /** The token that makes this stack the lab's owner; absent in state written before labs had owners. */
  owner?: string;
}

/** A switch as state may hold it: written before drivers were named, it has the script's path instead. */
export type RecordedSwitch = Omit<SwitchState, "driver"> & RecordedDriver;

/** Who owns a lab, as the driver shows it to anyone it refuses. */
export function ownerInfo(stack: string, dir: string, since: Date): string {
  return `stack ${stack} in ${dir}, since ${since.toISOString()}`;
}

// Dynamic providers are serialized into the state and run later by the engine, with the functions they
// call: those take everything as arguments, and driver.ts's load their modules themselves.
/** Claims the lab for a new owner token (switch-up, or switch-adopt for a switch recorded without one). */
async function claim(verb: "switch-up" | "switch-adopt", state: SwitchState): Promise<SwitchState> {
  const owner = newOwnerToken();
  // The dynamic provider runs in the project directory: the checkout that owns the lab.
  const info = ownerInfo(state.stack, process.cwd(), new Date());
  await runDriver(state.driver, [verb, state.lab, state.subnet, owner, info], state.driverConfig);
  return { ...state, owner };
}

/** The Switch's dynamic provider; exported for tests. */
export const switchProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: SwitchState) {
    return { id: inputs.lab, outs: await claim("switch-up", inputs) };
  },
  async read(id: string, props: SwitchState) {
    // A switch that is gone, or that is no longer this stack's, reads as gone: the next `up` creates
    // it again (or is refused, naming its owner) rather than failing every host behind it.
    const owner = props.owner ? [props.owner] : [];
    const up = (await runDriver(props.driver, ["switch-status", props.lab, ...owner])) === "up";
    return up ? { id, props } : { id: "", props: {} };
  },
  diff(_id: string, olds: RecordedSwitch, news: SwitchState) {
    const was = { ...olds, driver: driverOf(olds) };
    const replaces = (["driver", "lab", "subnet"] as const).filter((k) => was[k] !== news[k]);
    return Promise.resolve({
      changes:
        replaces.length > 0 ||
        // A switch recorded before labs had owners gets one in place (update).
        olds.owner === undefined ||
        (olds.driverConfig ?? "") !== (news.driverConfig ?? "") ||
        // State that names a script's path is rewritten in place, with the provider code kept beside
        // it, which refresh and delete would run on a path that is gone (as a Machine's, machine.ts).
        olds.driver === undefined,
      replaces: [...replaces],
      deleteBeforeReplace: true,
    });
  },
  async update(_id: string, olds: RecordedSwitch, news: SwitchState) {
    // A switch recorded without owner adopts its lab if no one owns it; a lab with hosts qualifies, as
    // this stack's own hosts are in it.
    if (olds.owner === undefined) return { outs: await claim("switch-adopt", news) };
    // The owner's switch-up, idempotent but for the lab's configuration, hands the driver the new one.
    if ((olds.driverConfig ?? "") !== (news.driverConfig ?? "")) {
      await runDriver(news.driver, ["switch-up", news.lab, news.subnet, olds.owner], news.driverConfig);
    }
    return { outs: { ...news, owner: olds.owner } };
  },
  async delete(_id: string, props: SwitchState) {
    // With this stack's token the driver leaves a lab that is not this stack's alone.
    await runDriver(props.driver, ["switch-down", props.lab, ...(props.owner ? [props.owner] : [])]);
  },
};

export class Switch extends pulumi.dynamic.Resource {
  constructor(name: string, args: SwitchArgs, opts?: pulumi.CustomResourceOptions) {
    super(switchProvider, name, { ...args, stack: pulumi.getStack() }, opts, "rwk", "Switch");
  }
}
