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
import { newOwnerToken, runDriver } from "./driver";

export interface SwitchArgs {
  /** Driver script, relative to the project root. */
  script: pulumi.Input<string>;
  lab: pulumi.Input<string>;
  /** CIDR of the lab subnet; the switch takes its first address. */
  subnet: pulumi.Input<string>;
}

export interface SwitchState {
  script: string;
  lab: string;
  subnet: string;
  /** The stack's name, for the line that tells others who owns the lab. */
  stack: string;
  /** The token that makes this stack the lab's owner; absent in state written before labs had owners. */
  owner?: string;
}

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
  await runDriver(state.script, [verb, state.lab, state.subnet, owner, info]);
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
    const up = (await runDriver(props.script, ["switch-status", props.lab, ...owner])) === "up";
    return up ? { id, props } : { id: "", props: {} };
  },
  diff(_id: string, olds: SwitchState, news: SwitchState) {
    const replaces = (["script", "lab", "subnet"] as const).filter((k) => olds[k] !== news[k]);
    return Promise.resolve({
      // A switch recorded before labs had owners gets one in place (update).
      changes: replaces.length > 0 || olds.owner === undefined,
      replaces: [...replaces],
      deleteBeforeReplace: true,
    });
  },
  async update(_id: string, _olds: SwitchState, news: SwitchState) {
    // Only a switch recorded without owner gets here (see diff). Its lab is adopted if no one owns it;
    // a lab with hosts qualifies, as this stack's own hosts are in it.
    return { outs: await claim("switch-adopt", news) };
  },
  async delete(_id: string, props: SwitchState) {
    // With this stack's token the driver leaves a lab that is not this stack's alone.
    await runDriver(props.script, ["switch-down", props.lab, ...(props.owner ? [props.owner] : [])]);
  },
};

export class Switch extends pulumi.dynamic.Resource {
  constructor(name: string, args: SwitchArgs, opts?: pulumi.CustomResourceOptions) {
    super(switchProvider, name, { ...args, stack: pulumi.getStack() }, opts, "rwk", "Switch");
  }
}
