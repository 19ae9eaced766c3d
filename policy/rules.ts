// The safety rules as pure functions over plain typed facts: each returns its problems, every one naming
// what is wrong and what to do instead. policies.ts reads the facts out of the engine's props; tests call
// these directly too. The host-side guards (rwk-etcd, rwk-kube) stay the last line of defence.
// The facts a resource policy reads are its component's args, typed where the component makes them.
import type { ClusterFacts } from "../components/etcd/cluster";
import type { MemberFacts } from "../components/etcd/member";
import type { ControlPlaneFacts } from "../components/kubernetes/control-plane";
import type { CertificateFacts } from "../components/pki/pki";
import { faultTolerance, minorOf, minorsApart, parseVersion, sizeWarnings } from "../config";

export type { CertificateFacts, ClusterFacts, ControlPlaneFacts, MemberFacts };

const list = (names: string[]) => names.join(", ") || "none";

/** Why a member would not count as healthy during the update, or undefined if it would. */
function down(c: Pick<ClusterFacts, "stopped" | "hostStates">, member: string): string | undefined {
  // Given with a pending change, the only time a rule asks; a host not in the inventory is gone.
  const state = c.hostStates ? (c.hostStates[member] ?? "destroyed") : "running";
  if (state !== "running") return `${member}'s host is ${state} (hostStates.${member})`;
  if (c.stopped?.includes(member)) return `${member}'s etcd is stopped (etcdMemberStates.${member})`;
  return undefined;
}

/**
 * Removals that would leave the cluster below a healthy quorum. The update joins new members first (the
 * engine creates before it deletes), then members leave in reverse join order; each removal needs the
 * voting members left to hold a quorum of healthy ones, the check rwk-etcd makes on the host.
 */
export function quorumOnRemoval(c: ClusterFacts): string[] {
  if (!c.deployedMembers) return [];
  const deployed = c.deployedMembers;
  const removed = deployed.filter((m) => !c.members.includes(m)).reverse();
  let current = [...deployed, ...c.members.filter((m) => !deployed.includes(m))];
  const problems: string[] = [];
  for (const member of removed) {
    // The last member leaving ends the cluster: the data-loss guard's concern (allowDataLoss), not quorum's.
    if (current.length <= 1) break;
    const left = current.filter((m) => m !== member);
    const healthy = left.filter((m) => down(c, m) === undefined).length;
    const need = faultTolerance(left.length).quorum;
    if (healthy < need) {
      const reasons = left.map((m) => down(c, m)).filter((r): r is string => r !== undefined);
      problems.push(
        `removing ${member} leaves ${left.length} voting members with ${healthy} healthy, below quorum ${need} ` +
          `(${reasons.join("; ")}): bring them back first, or remove the members that are down before the healthy ones`,
      );
    }
    current = left;
  }
  return problems;
}

/**
 * Several membership changes in one update that cannot be chained. The program chains members by their
 * place in etcdMembers (each joins after the one before it and leaves before it), so the changes of one
 * update go one member at a time only when the members that stay keep their order and come first.
 */
export function membershipChain(c: ClusterFacts): string[] {
  if (!c.deployedMembers) return [];
  const deployed = c.deployedMembers;
  const added = c.members.filter((m) => !deployed.includes(m));
  const removed = deployed.filter((m) => !c.members.includes(m));
  if (added.length + removed.length <= 1) return [];
  const changes = `${added.length + removed.length} membership changes (adds: ${list(added)}; removes: ${list(removed)})`;
  const kept = deployed.filter((m) => c.members.includes(m));
  const problems: string[] = [];
  if (kept.length === 0) {
    problems.push(
      `${changes} replace every member at once: the new first member bootstraps while the only members it ` +
        `can join are leaving; add the new members in one update and remove the old ones in the next`,
    );
  } else if (c.members.join(",") !== [...kept, ...added].join(",")) {
    problems.push(
      `${changes} with the members reordered: a member's place in etcdMembers chains its join and its ` +
        `leave, so running members would be re-chained in the same update; keep the order of the members ` +
        `that stay and add new ones at the end: [${[...kept, ...added].join(", ")}]`,
    );
  }
  if (!c.learner && added.length > 1) {
    problems.push(
      `${changes} with etcdLearner false: each new voting member counts towards quorum before it has ` +
        `started, so a join that fails stalls the cluster for the next; set etcdLearner true, or add one ` +
        `member per update`,
    );
  }
  return problems;
}

/** The advisory of an even-sized cluster: the program's own preview warning (a pair survives no failure). */
export const evenMembers = sizeWarnings;

/** force-new-cluster rewrites the member list to this member alone: only a classic restore may use it. */
export function forceNewClusterOutsideRestore(m: MemberFacts): string[] {
  if (!m.forceNewCluster || m.restore?.method === "classic") return [];
  const why = m.restore ? `a ${m.restore.method} restore` : "no restore";
  return [
    `${m.name} would start with ETCD_FORCE_NEW_CLUSTER in ${why}: it makes this member a cluster of one and ` +
      `splits it from the others; force-new-cluster belongs to the classic restore only (restore: {from, method: classic})`,
  ];
}

/** A serving certificate of a host must name the host, by name and by address, or clients refuse it. */
export function sansCoverHost(c: CertificateFacts): string[] {
  if (!c.host || !c.usages.includes("server")) return [];
  const missing = [
    ...(c.dnsNames.includes(c.host.name) ? [] : [`the DNS name ${c.host.name}`]),
    ...(c.ipAddresses.includes(c.host.address) ? [] : [`the IP address ${c.host.address}`]),
  ];
  if (missing.length === 0) return [];
  return [
    `the serving certificate ${c.commonName} of ${c.host.name} lacks ${missing.join(" and ")} in its SANs ` +
      `(it has ${list([...c.dnsNames, ...c.ipAddresses])}): clients that dial the host by it refuse the ` +
      `certificate; add them to its dnsNames/ipAddresses`,
  ];
}

/** A certificate's expiry as its registered outputs give it. */
export interface CertificateExpiry {
  /** RFC 3339, as @pulumi/tls gives it. */
  validityEndTime: string;
  earlyRenewalHours: number;
  usages: string[];
}

const hour = 3600 * 1000;

/** A serving certificate already inside its early-renewal window after the update: it was not reissued. */
export function expiresWithinRenewal(c: CertificateExpiry, now: number): string[] {
  if (!c.usages.includes("server")) return [];
  const end = Date.parse(c.validityEndTime);
  if (Number.isNaN(end)) return [];
  const left = Math.floor((end - now) / hour);
  if (end - now > c.earlyRenewalHours * hour) return [];
  const when = left < 0 ? `expired ${-left} h ago` : `expires in ${left} h`;
  return [
    `the serving certificate ${when} (${c.validityEndTime}), within its early-renewal window of ` +
      `${c.earlyRenewalHours} h, and this update does not reissue it: run \`pulumi up --refresh\` so the ` +
      `provider sees it is due, or raise pki.rotation to reissue every leaf now`,
  ];
}

const privateKeyPem = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * Fields that hold a private key in the clear: a command line (the engine's log, the host's `ps`) or a
 * component's args (its state, readable by anyone who can read the stack). Keys go to a host on a
 * command's stdin, as secrets; components pass Outputs, not their values.
 */
export function privateKeyOutsideSecret(fields: Record<string, unknown>): string[] {
  const holding = Object.entries(fields)
    .filter(([, v]) => v !== undefined && privateKeyPem.test(typeof v === "string" ? v : JSON.stringify(v)))
    .map(([k]) => k);
  if (holding.length === 0) return [];
  return [
    `a private key in ${holding.join(", ")}, outside a secret: it would show in the engine's log and the ` +
      `stack's state; push it on the command's stdin (pushFiles) from a pulumi.secret, never in a command ` +
      `line, triggers or a component's args`,
  ];
}

/** A version change going back a minor or skipping one (etcd's upgrade rule, Kubernetes' skew policy). */
export function minorAtATime(what: "etcd" | "Kubernetes", from: string | undefined, to: string): string[] {
  if (from === undefined || from === to) return [];
  const a = parseVersion(from);
  const b = parseVersion(to);
  if (!a || !b) return [];
  const apart = minorsApart(a, b);
  const key = what === "etcd" ? "etcdVersion" : "kubernetesVersion";
  if (apart > 1)
    return [
      `${what} ${from} → ${to} skips a minor version (${minorOf(a)} → ${minorOf(b)}): ${what} moves one minor ` +
        `at a time; set ${key} to a ${a[0]}.${a[1] + 1} release first`,
    ];
  if (apart < 0)
    return [
      `${what} ${from} → ${to} goes back a minor version (${minorOf(a)} → ${minorOf(b)}): ${
        what === "etcd"
          ? "etcd's data carries the cluster version; restore a backup taken at the older version instead"
          : "the API servers' stored objects may use the newer API versions; patch versions within a minor may go either way"
      }`,
    ];
  return [];
}

/** A kubelet and the API servers, as their registered outputs give them. */
export interface Versioned {
  host: string;
  version: string;
}

/** The version-skew policy: no kubelet newer than any API server (older by up to three minors is fine). */
export function kubeletNewerThanApiservers(kubelet: Versioned, apiservers: Versioned[]): string[] {
  const k = parseVersion(kubelet.version);
  if (!k) return [];
  const older = apiservers.filter((a) => {
    const v = parseVersion(a.version);
    return v !== undefined && minorsApart(v, k) > 0;
  });
  if (older.length === 0) return [];
  return [
    `the kubelet on ${kubelet.host} runs ${kubelet.version}, newer than the API server on ` +
      `${older.map((a) => `${a.host} (${a.version})`).join(", ")}: a kubelet may never be newer than an API ` +
      `server; upgrade the control plane first (kubernetesVersion rolls the control-plane hosts before the workers)`,
  ];
}

/**
 * A control-plane change (hosts joining or leaving it, a new release) while one of its hosts, old or new,
 * is not running: the change goes host by host, each ready before the next, and a stopped host never is.
 */
export function controlPlaneChangeWithHostDown(c: ControlPlaneFacts): string[] {
  const before = c.deployedControlPlane;
  const joining = before ? c.controlPlane.filter((h) => !before.includes(h)) : [];
  const leaving = before ? before.filter((h) => !c.controlPlane.includes(h)) : [];
  const release = c.deployedVersion !== undefined && c.deployedVersion !== c.version;
  const changes = [
    ...(joining.length > 0 ? [`${list(joining)} joining`] : []),
    ...(leaving.length > 0 ? [`${list(leaving)} leaving`] : []),
    ...(release ? [`${c.deployedVersion} → ${c.version}`] : []),
  ];
  if (changes.length === 0) return [];
  const hosts = [...new Set([...c.controlPlane, ...(before ?? [])])];
  const notRunning = hosts
    .filter((h) => (c.hostStates?.[h] ?? "running") !== "running")
    .map((h) => `${h} is ${c.hostStates?.[h]} (hostStates.${h})`);
  if (notRunning.length === 0) return [];
  return [
    `a control-plane change (${changes.join("; ")}) while ${notRunning.join(", ")}: the control plane ` +
      `changes one host at a time, each ready before the next, and a host that is not running never is; ` +
      `bring it back first (hostStates: running), then make the change in an update of its own`,
  ];
}

/** An API server pointed at other etcd members than the cluster's: missing ones, and ones not members. */
export function apiserverEtcdServers(etcdServers: string[], memberUrls: string[]): string[] {
  const missing = memberUrls.filter((u) => !etcdServers.includes(u));
  const extra = etcdServers.filter((u) => !memberUrls.includes(u));
  if (missing.length + extra.length === 0) return [];
  return [
    `the API server's --etcd-servers ${missing.length > 0 ? `lacks ${list(missing)}` : ""}${
      missing.length > 0 && extra.length > 0 ? " and " : ""
    }${extra.length > 0 ? `names ${list(extra)}, no member` : ""}: it must name every member (${list(memberUrls)}) ` +
      `so that it survives the loss of any one; give it every member's client URL`,
  ];
}

/** A backup as its registered outputs give it: the host's manifest (components/recovery/restore.ts). */
export interface BackupTaken {
  name: string;
  /** RFC 3339; undefined while the backup is still to be taken in this update. */
  takenAt?: string;
}

/** No etcd backup taken in the last `maxAgeHours`, nor one being taken by this update. */
export function noRecentBackup(backups: BackupTaken[], maxAgeHours: number, now: number): string[] {
  if (backups.some((b) => b.takenAt === undefined)) return [];
  const times = backups.map((b) => ({ ...b, at: Date.parse(b.takenAt!) })).filter((b) => !Number.isNaN(b.at));
  const newest = times.sort((a, b) => b.at - a.at)[0];
  if (newest && now - newest.at <= maxAgeHours * hour) return [];
  const last = newest
    ? `the newest, ${newest.name}, was taken at ${newest.takenAt} (${Math.floor((now - newest.at) / hour)} h ago)`
    : "the stack holds none";
  return [
    `no etcd backup taken in the last ${maxAgeHours} h (${last}): a drill that loses data would have ` +
      `nothing recent to restore from; set backup: {id: <a new id>, member} to take one in this update`,
  ];
}
