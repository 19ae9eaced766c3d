import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { hostCommand, runFromFiles } from "../host/commands";
import type { Host } from "../host/host";
import { shellCommand } from "../host/shell";
import type { ControlPlane } from "./control-plane";
import { paths } from "./facts";
import type { Kubelet } from "./kubelet";
import { apiserverUrl, keepalivedFiles } from "./render";

export interface KeepalivedArgs {
  host: Host;
  /** The API servers' virtual IP. */
  virtualIp: string;
  /** The other control-plane hosts. */
  peers: Host[];
  /** Its place in the stack's controlPlane list: an election goes to the live host listed first. */
  rank: number;
  /** The host's kubelet: its push brought the rwk-kube helper. */
  kubelet: Kubelet;
  /** The host's control plane: the address comes here only once its API server is ready. */
  controlPlane: ControlPlane;
}

/**
 * keepalived on a control-plane host: with its peers it keeps the API servers' virtual IP on one host
 * whose API server is ready, and moves it when that host or its API server fails (see
 * renderKeepalivedConfig). Debian's package, run as its users run it: a systemd service and one file.
 */
export class Keepalived extends pulumi.ComponentResource {
  /** Completes once keepalived runs the current configuration and the virtual IP answers /readyz. */
  public readonly ready: command.remote.Command;

  constructor(name: string, args: KeepalivedArgs, opts?: pulumi.ComponentResourceOptions) {
    super("rwk:kubernetes:Keepalived", name, {}, opts);
    const { host } = args;
    // The interface that holds the host's address: eth0 on a lab host, whatever your own hosts call it.
    const nic = hostCommand(
      host,
      `${name}-nic`,
      {
        create: `${shellCommand("ip", "-o", "-4", "addr", "show", "to", `${host.address}/32`)} | awk '{print $2; exit}' | grep .`,
        logging: "stderr",
      },
      { parent: this },
    );
    const files = nic.stdout.apply((out) =>
      keepalivedFiles({
        host: { name: host.hostName, address: host.address },
        nic: out.trim(),
        peers: args.peers.map((p) => p.address),
        virtualIp: args.virtualIp,
        rank: args.rank,
      }),
    );
    this.ready = runFromFiles(
      host,
      name,
      {
        files,
        restartMarker: paths.keepalivedReloadPending,
        start: (hash) =>
          shellCommand(
            paths.script,
            "start-vip",
            "--endpoint",
            apiserverUrl(args.virtualIp),
            "--config",
            hash,
          ),
        stop: shellCommand(paths.script, "stop-vip"),
      },
      // A host takes the address only while its API server is ready: that comes first.
      { parent: this, dependsOn: [args.kubelet.ready, args.controlPlane.ready] },
    ).started;
    this.registerOutputs({});
  }
}
