import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Driver, HostSpec, HostState } from "../../config";
import { Machine } from "./machine";

export interface HostArgs {
  /** The validated inventory entry: name, address and desired state. */
  spec: HostSpec;
  /** Which driver brings the host to life. */
  driver: Driver;
  /** The lab this host belongs to (prefixes its namespaces and machine name). */
  lab: string;
  /** The stack's SSH key: its public half is authorized on the host, its private half logs in. */
  publicKeyOpenssh: pulumi.Input<string>;
  privateKeyOpenssh: pulumi.Input<string>;
  /** Driver-specific configuration of this host alone (the vagrant driver: its part of the Vagrantfile). */
  driverConfig?: string;
}

/** One of the workshop's hosts (core-01..03): a real system with systemd and sshd. */
export class Host extends pulumi.ComponentResource {
  public readonly hostName: string;
  public readonly address: string;
  public readonly state: HostState;
  /** How @pulumi/command reaches the host's sshd. Stable across stop/start and destroy/recreate. */
  public readonly connection: pulumi.Output<command.types.input.remote.ConnectionArgs>;
  /** Where the host's sshd answers, without the key: for people and checks (`ssh -p <port> root@<host>`). */
  public readonly sshEndpoint: pulumi.Output<{ host: string; port: number; user: string }>;
  /** The host's machine-id: changes only when the host is rebuilt, so things placed on it can follow. */
  public readonly identity: pulumi.Output<string>;
  /**
   * The resource whose deletion takes the host's disk with it (local drivers only). Things placed on the
   * host are `deletedWith` it: cleaning them up over SSH first would be pointless, and impossible when
   * the host is stopped.
   */
  public readonly machine?: pulumi.Resource;

  constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:host:Host", name, {}, opts);
    const { spec } = args;
    this.hostName = spec.name;
    this.address = spec.address;
    this.state = spec.state;

    if (args.driver === "ssh") {
      this.sshEndpoint = pulumi.output({ host: spec.address, port: spec.sshPort, user: spec.sshUser });
      this.connection = pulumi.output({
        host: spec.address,
        port: spec.sshPort,
        user: spec.sshUser,
        privateKey: args.privateKeyOpenssh,
      });
      const id = new command.remote.Command(
        `${name}-identity`,
        { connection: this.connection, create: "cat /etc/machine-id" },
        { parent: this },
      );
      this.identity = id.stdout.apply((s) => s.trim());
    } else {
      const machine = new Machine(
        `${name}-machine`,
        {
          driver: args.driver,
          lab: args.lab,
          host: spec.name,
          address: spec.address,
          publicKey: args.publicKeyOpenssh,
          state: spec.state,
          ...(args.driverConfig ? { driverConfig: args.driverConfig } : {}),
        },
        { parent: this },
      );
      this.sshEndpoint = machine.sshPort.apply((port) => ({ host: "127.0.0.1", port, user: "root" }));
      this.connection = pulumi.output({
        host: "127.0.0.1",
        port: machine.sshPort,
        user: "root",
        privateKey: args.privateKeyOpenssh,
        // A stopped host refuses at once; fail after a few tries instead of upstream's ten.
        dialErrorLimit: 4,
        perDialTimeout: 5,
      });
      this.identity = machine.machineId;
      this.machine = machine;
    }
    this.registerOutputs({ connection: this.connection, identity: this.identity });
  }
}
