// Changes that lose etcd data for good, and the one way to allow them.
import { faultTolerance } from "./etcd";
import type { EtcdSpec } from "./etcd";
import type { HostSpec } from "./hosts";
import type { Problems, RawOf } from "./problems";
import type { RestoreSpec } from "./recovery";

/** Nothing is allowed to lose data unless a stack says so. */
export const safetyConfigDefaults = { allowDataLoss: "" } as const;

/**
 * Whether `allowDataLoss` is given; the dangers of an otherwise valid config are problems unless it is.
 * It counts only when it names this stack, so a value copied from another stack does nothing.
 */
export function parseAllowDataLoss(
  raw: RawOf<typeof safetyConfigDefaults>,
  placed: { hosts: HostSpec[]; etcd: EtcdSpec; restore: RestoreSpec | undefined },
  stack: string,
  p: Problems,
): boolean {
  // Only a config that is valid so far can be judged dangerous; otherwise its problems come first.
  const dangers =
    p.count === 0 ? dataLossProblems(placed.hosts, placed.etcd, placed.restore, stack, p.key) : [];
  const value = raw.allowDataLoss ?? safetyConfigDefaults.allowDataLoss;
  const allowed = value === stack;
  if (value !== "" && !allowed) {
    p.add(
      "allowDataLoss",
      `${JSON.stringify(value)} must be empty or this stack's name (${JSON.stringify(stack)})`,
    );
  }
  if (!allowed) p.addWorded(dangers);
  return allowed;
}

/**
 * Changes that lose etcd data for good. Each is refused unless `allowDataLoss` names the stack: the
 * user says so explicitly, for this stack only.
 */
export function dataLossProblems(
  hosts: HostSpec[],
  etcd: EtcdSpec,
  restore: RestoreSpec | undefined,
  stack: string,
  key: (k: string) => string,
): string[] {
  const confirm = `set ${key("allowDataLoss")} to ${JSON.stringify(stack)} (this stack's name) to do it anyway`;
  const problems: string[] = [];
  if (etcd.members.length === 0) {
    problems.push(
      `${key("etcdMembers")}: an empty member set ends the etcd cluster (its last member leaves; its data ` +
        `directory is kept on its host, renamed); ${confirm}`,
    );
  }
  const destroyed = etcd.members.filter((m) => hosts.find((h) => h.name === m)?.state === "destroyed");
  const { quorum } = faultTolerance(etcd.members.length);
  if (etcd.members.length > 0 && destroyed.length >= quorum) {
    problems.push(
      `${key("hostStates")}: destroying ${destroyed.join(", ")} deletes ${destroyed.length} of ` +
        `${etcd.members.length} etcd members' data, a quorum: the cluster cannot recover without a restore; ${confirm}`,
    );
  }
  if (restore?.method === "in-place") {
    problems.push(
      `${key("restore.method")}: in-place replaces the running cluster's data with the backup's, losing every ` +
        `write since it was taken (take a fresh backup first if you want to keep them); ${confirm}`,
    );
  }
  return problems;
}
