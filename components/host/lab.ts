import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { StackConfig } from "../../config";
import { Host } from "./host";
import { Switch } from "./switch";
import { renderVagrantHost, renderVagrantLab } from "./vagrantfile";

export interface LabArgs {
  config: StackConfig;
  /** For the ssh driver: your key for your hosts (a secret); empty means the stack's own key. */
  sshPrivateKey?: pulumi.Input<string>;
}

/** The workshop's hosts and what connects them: the stack's SSH key, the lab switch, one Host per entry. */
export class Lab extends pulumi.ComponentResource {
  public readonly hosts: Record<string, Host> = {};
  public readonly sshPrivateKey: pulumi.Output<string>;
  /** The public half of the stack's own key (what the local drivers authorize on their hosts). */
  public readonly sshPublicKey: pulumi.Output<string>;
  /** The lab's network (local drivers): what is reached through it (a lab forward) goes before it. */
  public readonly network?: pulumi.Resource;

  constructor(name: string, args: LabArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:host:Lab", name, {}, opts);
    const { config } = args;

    // One key per stack, kept as a Pulumi secret: stacks never share access to each other's hosts.
    const key = new tls.PrivateKey(`${name}-ssh-key`, { algorithm: "ED25519" }, { parent: this });
    this.sshPublicKey = key.publicKeyOpenssh;
    this.sshPrivateKey = pulumi.secret(
      config.driver === "ssh"
        ? pulumi.all([args.sshPrivateKey ?? "", key.privateKeyOpenssh]).apply(([own, stack]) => own || stack)
        : key.privateKeyOpenssh,
    );

    // The local drivers give the lab a network of its own; your own hosts (ssh) already have one.
    // The vagrant driver's Vagrantfile comes in parts (vagrantfile.ts): the lab's goes with the switch,
    // each host's with that host alone.
    const vagrant = config.driver === "vagrant";
    const lanSwitch =
      config.driver === "ssh"
        ? undefined
        : new Switch(
            `${name}-switch`,
            {
              driver: config.driver,
              lab: config.lab,
              subnet: config.subnet.cidr,
              ...(vagrant
                ? {
                    driverConfig: renderVagrantLab({
                      lab: config.lab,
                      subnet: config.subnet,
                      vagrant: config.vagrant,
                    }),
                  }
                : {}),
            },
            { parent: this },
          );

    if (lanSwitch) this.network = lanSwitch;
    for (const spec of config.hosts) {
      const driverConfig = vagrant
        ? renderVagrantHost({
            lab: config.lab,
            subnet: config.subnet,
            host: spec,
            provider: config.vagrant.provider,
          })
        : undefined;
      this.hosts[spec.name] = new Host(
        `${name}-${spec.name}`,
        {
          spec,
          driver: config.driver,
          lab: config.lab,
          publicKeyOpenssh: key.publicKeyOpenssh,
          privateKeyOpenssh: this.sshPrivateKey,
          ...(driverConfig ? { driverConfig } : {}),
        },
        // Hosts are plugged into the switch: it comes first and goes last.
        { parent: this, dependsOn: lanSwitch ? [lanSwitch] : [] },
      );
    }
    this.registerOutputs({ sshPrivateKey: this.sshPrivateKey });
  }
}
