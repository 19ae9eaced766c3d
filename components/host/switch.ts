// The lab's layer-2 segment (the workshop's 172.17.8.0/24): a bridge in a network namespace of its own,
// so the workshop's addresses never touch the workstation's network.
import * as pulumi from "@pulumi/pulumi";
import { runDriver } from "./driver";

export interface SwitchArgs {
  /** Driver script, relative to the project root. */
  script: pulumi.Input<string>;
  lab: pulumi.Input<string>;
  /** CIDR of the lab subnet; the switch takes its first address. */
  subnet: pulumi.Input<string>;
}

interface SwitchState {
  script: string;
  lab: string;
  subnet: string;
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: SwitchState) {
    await runDriver(inputs.script, ["switch-up", inputs.lab, inputs.subnet]);
    return { id: inputs.lab, outs: inputs };
  },
  async read(id: string, props: SwitchState) {
    // A switch that is gone is recreated by the next `up` rather than failing every host behind it.
    const up = (await runDriver(props.script, ["switch-status", props.lab])) === "up";
    return up ? { id, props } : { id: "", props: {} };
  },
  diff(_id: string, olds: SwitchState, news: SwitchState) {
    const replaces = (["script", "lab", "subnet"] as const).filter((k) => olds[k] !== news[k]);
    return Promise.resolve({
      changes: replaces.length > 0,
      replaces: [...replaces],
      deleteBeforeReplace: true,
    });
  },
  async delete(_id: string, props: SwitchState) {
    await runDriver(props.script, ["switch-down", props.lab]);
  },
};

export class Switch extends pulumi.dynamic.Resource {
  constructor(name: string, args: SwitchArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, args, opts, "rwk", "Switch");
  }
}
