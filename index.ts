// real-world-kubernetes: the workshop's hosts and etcd member set, driven by this stack's config.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, deployedOutput, loadConfig, upgradeProblems } from "./config";
import type { Deployed } from "./config";
import { program } from "./program";

const config = loadConfig();

/**
 * What the stack's last completed update deployed (its own `deployed` output; nothing on a new stack).
 * A failed or interrupted update leaves the record as it was: the next one starts from the same place.
 */
async function lastDeployed(): Promise<Deployed> {
  // A read of this stack's own outputs: it changes nothing, and a preview shows it as a read.
  const self = new pulumi.StackReference("deployed", {
    name: `${pulumi.getOrganization()}/${config.project}/${config.stack}`,
  });
  const details = await self.getOutputDetails(deployedOutput);
  return (details.value ?? {}) as Deployed;
}

// A version change is checked against what runs before anything else is registered: a refused change
// changes nothing.
export = lastDeployed().then((deployed) => {
  const refused = upgradeProblems(deployed, config);
  if (refused.length > 0) throw new ConfigError(refused);
  // The components carry the record for the safety policies (policy/), which judge a change at preview.
  // An update leaves it out: the args it records are then those of what runs, and the next update of an
  // unchanged config is no change at all (a component whose args differ is an update in the engine's eyes).
  return program(config, pulumi.runtime.isDryRun() ? deployed : {});
});
