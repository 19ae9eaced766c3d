// A lab forward (lab/lib.sh, "forwards to lab addresses"): 127.0.0.1:<port> on the workstation to an
// address and port on the lab network, for a service the workstation itself talks to (the API server:
// kubectl and the engine's Kubernetes provider run here, outside the lab's network namespaces). It
// belongs to the lab, like a load balancer's address: a host that is down makes it refuse connections.
import * as pulumi from "@pulumi/pulumi";
import { runDriver } from "./driver";
import type { LocalDriver } from "./driver";

export interface ForwardArgs {
  driver: pulumi.Input<LocalDriver>;
  lab: pulumi.Input<string>;
  /** The forward's name in its lab (e.g. apiserver). */
  name: pulumi.Input<string>;
  /** Where it leads on the lab network. */
  address: pulumi.Input<string>;
  remotePort: pulumi.Input<number>;
}

export interface ForwardState {
  driver: LocalDriver;
  lab: string;
  name: string;
  address: string;
  remotePort: number;
  /** The workstation's end, 127.0.0.1:<port>; kept across a new target or a restart. */
  port: number;
  /** Whether the forwarder ran when last looked at: up reads it, so a dead one is started again. */
  running: boolean;
}

async function up(s: Omit<ForwardState, "port" | "running">, port?: number): Promise<ForwardState> {
  const args = [
    "forward-up",
    s.lab,
    s.name,
    s.address,
    String(s.remotePort),
    ...(port ? [String(port)] : []),
  ];
  const out = await runDriver(s.driver, args);
  return { ...s, port: Number(out), running: true };
}

// Dynamic providers are serialized into the state and run later: everything comes in as arguments.
/** The Forward's dynamic provider; exported for tests. */
export const forwardProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: ForwardState) {
    return { id: `${inputs.lab}/${inputs.name}`, outs: await up(inputs) };
  },
  async read(id: string, props: ForwardState) {
    const status = await runDriver(props.driver, ["forward-status", props.lab, props.name]);
    return { id, props: { ...props, running: status === "up" } };
  },
  async diff(_id: string, olds: ForwardState, news: ForwardState) {
    // A forwarder that died (the workstation restarted, someone killed it) is started again by the
    // next up, on the same port: a preview shows it as an update.
    const status = await runDriver(olds.driver, ["forward-status", olds.lab, olds.name]).catch(() => "down");
    const replaces = (["driver", "lab", "name"] as const).filter((k) => olds[k] !== news[k]);
    return {
      changes:
        replaces.length > 0 ||
        olds.address !== news.address ||
        olds.remotePort !== news.remotePort ||
        status !== "up",
      replaces: [...replaces],
      stables: ["port"],
      deleteBeforeReplace: true,
    };
  },
  async update(_id: string, olds: ForwardState, news: ForwardState) {
    return { outs: await up(news, olds.port) };
  },
  async delete(_id: string, props: ForwardState) {
    await runDriver(props.driver, ["forward-down", props.lab, props.name]);
  },
};

export class Forward extends pulumi.dynamic.Resource {
  declare public readonly port: pulumi.Output<number>;

  constructor(name: string, args: ForwardArgs, opts?: pulumi.CustomResourceOptions) {
    super(forwardProvider, name, { ...args, port: undefined, running: undefined }, opts, "rwk", "Forward");
  }
}
