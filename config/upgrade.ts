// Version changes of a running stack, checked against what its last update deployed (the stack's own
// `deployed` output), before anything is registered. What etcd and Kubernetes allow: etcd upgrades one
// minor version at a time and never goes back a minor in place (its data carries the cluster version);
// Kubernetes' version-skew policy lets the API servers move one minor at a time, kubelets never newer than
// the API servers (program.ts rolls the nodes in that order). A version change rolls every member and
// host, so it needs all of them running.
import type { StackConfig } from "./index";
import { etcdVersions } from "./etcd";
import { kubernetesVersions } from "./kubernetes";
import { Problems } from "./problems";

/** What the stack's last completed update runs (absent: nothing of it deployed yet). */
export interface Deployed {
  etcdVersion?: string;
  kubernetesVersion?: string;
  /**
   * The etcd members and control-plane hosts it ran, in config order: the safety policies (policy/)
   * compare the next update's membership with them (absent in a record made before they were kept).
   */
  etcdMembers?: string[];
  controlPlane?: string[];
}

/**
 * Whether a recorded value differs from the config's: what a pending change is made of. Nothing recorded
 * is no change (a stack whose record predates the field has nothing to compare with).
 */
export function changed<T extends string | string[]>(recorded: T | undefined, wanted: T): recorded is T {
  return recorded !== undefined && JSON.stringify(recorded) !== JSON.stringify(wanted);
}

/**
 * A component's facts of a pending change: for each compared field whose record differs from the config
 * (changed), the record's value under the field's name, and with any of them `context` (what a rule reads
 * of the moment, e.g. the hosts' states). Nothing at rest: the engine counts a component whose args change
 * as updated, so a stack at rest, or whose hosts stop and start, must keep its args.
 */
export function pendingFacts<T extends Record<string, string | string[]>, C extends object>(
  compared: { [F in keyof T]: readonly [recorded: T[F] | undefined, wanted: T[F]] },
  context: C,
): Partial<T & C> {
  const pending = Object.entries<readonly [string | string[] | undefined, string | string[]]>(compared)
    .filter(([, [recorded, wanted]]) => changed(recorded, wanted))
    .map(([field, [recorded]]) => [field, recorded] as const);
  return pending.length > 0 ? { ...Object.fromEntries(pending), ...context } : {};
}

/** The stack output that records it. */
export const deployedOutput = "deployed";

/** What this config deploys: the record the next update's guard reads back. */
export function deployedBy(config: StackConfig): Deployed {
  return {
    ...(config.etcd.members.length > 0
      ? { etcdVersion: config.etcd.version, etcdMembers: config.etcd.members }
      : {}),
    ...(config.kubernetes.controlPlane.length > 0
      ? { kubernetesVersion: config.kubernetes.version, controlPlane: config.kubernetes.controlPlane }
      : {}),
  };
}

export type Version = [major: number, minor: number, patch: number];

/** A release's version (`1.34.4`, or `v1.34.4` as a binary reports it); undefined if it is none. */
export function parseVersion(version: string): Version | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function parse(version: string): Version {
  const v = parseVersion(version);
  if (!v) throw new Error(`not a version: ${version}`);
  return v;
}

export const minorOf = (v: Version): string => `${v[0]}.${v[1]}`;

/** Minors apart (1 for 3.5 → 3.6, -1 back, 0 same minor); majors count as far apart. */
export function minorsApart(from: Version, to: Version): number {
  return from[0] === to[0] ? to[1] - from[1] : (to[0] - from[0]) * 1000;
}

/** The versions built here that `from` may move to in one update: its own minor and the next one. */
function reachable(from: Version, built: readonly string[]): string[] {
  return built.filter((v) => {
    const apart = minorsApart(from, parse(v));
    return apart === 0 || apart === 1;
  });
}

/**
 * The refusals for a version change from `deployed` to `config`, each naming the key, what is allowed and
 * why; none when nothing changes version or nothing ran before.
 */
export function upgradeProblems(deployed: Deployed, config: StackConfig): string[] {
  const p = new Problems(config.project);
  const notRunning = [
    ...config.hosts
      .filter((h) => h.state !== "running")
      .map((h) => `${h.name} is ${h.state} (hostStates.${h.name})`),
    ...config.etcd.stopped.map((m) => `${m}'s etcd is stopped (etcdMemberStates.${m})`),
  ];
  const check = (
    key: "etcdVersion" | "kubernetesVersion",
    from: string | undefined,
    to: string,
    built: readonly string[],
    rules: { back: string; skip: string },
  ) => {
    if (from === undefined || from === to) return;
    const a = parse(from);
    const b = parse(to);
    const apart = minorsApart(a, b);
    const allowed = `allowed from ${from}: ${reachable(a, built).join(", ") || "none built here"}`;
    if (apart < 0)
      p.add(
        key,
        `${from} → ${to} goes back a minor version (${minorOf(a)} → ${minorOf(b)}): ${rules.back}; ${allowed}`,
      );
    else if (apart > 1)
      p.add(
        key,
        `${from} → ${to} skips a minor version (${minorOf(a)} → ${minorOf(b)}): ${rules.skip}; ${allowed}`,
      );
    if (notRunning.length > 0)
      p.add(
        key,
        `${from} → ${to} rolls every member and host, one at a time, each healthy before the next: ${notRunning.join(", ")}; bring them back first`,
      );
  };
  if (config.etcd.members.length > 0)
    check("etcdVersion", deployed.etcdVersion, config.etcd.version, etcdVersions, {
      back: "etcd's data carries the cluster version and an older member refuses to start on it; to go back, restore a backup taken at the older version (restore.from)",
      skip: "etcd upgrades one minor version at a time",
    });
  if (config.kubernetes.controlPlane.length > 0)
    check("kubernetesVersion", deployed.kubernetesVersion, config.kubernetes.version, kubernetesVersions, {
      back: "the version-skew policy never takes the API servers back a minor (their stored objects may use the newer one's API versions); patch versions within a minor may go either way",
      skip: "the version-skew policy moves the API servers one minor at a time",
    });
  return p.list();
}
