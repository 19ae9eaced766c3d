// The policy objects of the rwk-safety pack: each reads its facts out of the engine's props and reports
// what its rule (rules.ts) finds. Resource policies read a component's args (what it passed to super());
// stack policies read registered outputs, where a value the preview cannot know yet is skipped: the rule
// runs on it again during `pulumi up`. Importing this starts nothing (index.ts starts the pack).
import { UnknownValueError } from "@pulumi/policy";
import type {
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from "@pulumi/policy";
import * as rules from "./rules";
import type {
  BackupTaken,
  CertificateFacts,
  ClusterFacts,
  ControlPlaneFacts,
  MemberFacts,
  Versioned,
} from "./rules";

/** The component type tokens the rules read (components/). */
export const types = {
  cluster: "rwk:etcd:Cluster",
  member: "rwk:etcd:Member",
  certificate: "rwk:pki:Certificate",
  controlPlane: "rwk:kubernetes:ControlPlane",
  kubelet: "rwk:kubernetes:Kubelet",
  backup: "rwk:recovery:Backup",
} as const;

/** A value read out of props as plain data, or undefined if any part of it is unknown (in preview). */
export function known<T>(read: () => T): T | undefined {
  try {
    const value = read();
    return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as T);
  } catch (e) {
    if (e instanceof UnknownValueError) return undefined;
    throw e;
  }
}

/**
 * Every problem, as one violation each: what is wrong and what to do instead. The CLI heads each with its
 * level, the rule's name and the resource (the URN given, else the resource validated).
 */
function report(problems: string[], reportViolation: ReportViolation, urn?: string) {
  for (const p of problems) reportViolation(p, urn);
}

/** A resource policy over one component type's args, whose facts are plain (they are known at preview). */
function onArgs<F>(
  policy: Omit<ResourceValidationPolicy, "validateResource">,
  type: string,
  rule: (facts: F, args: ResourceValidationArgs) => string[],
): ResourceValidationPolicy {
  return {
    ...policy,
    validateResource: (args, reportViolation) => {
      if (args.type !== type) return;
      const facts = known(() => args.props as F);
      if (facts === undefined) return;
      report(rule(facts, args), reportViolation);
    },
  };
}

const ofType = (resources: PolicyResource[], type: string) => resources.filter((r) => r.type === type);

export const etcdQuorumOnRemoval = onArgs<ClusterFacts>(
  {
    name: "etcd-quorum-on-removal",
    description:
      "A membership change must not remove a voting etcd member while the members left would be below a quorum of healthy ones.",
    enforcementLevel: "mandatory",
  },
  types.cluster,
  rules.quorumOnRemoval,
);

export const etcdMembershipChain = onArgs<ClusterFacts>(
  {
    name: "etcd-membership-chain",
    description:
      "More than one etcd membership change in one update only where they chain, one member at a time.",
    enforcementLevel: "mandatory",
  },
  types.cluster,
  rules.membershipChain,
);

export const etcdMinorAtATime = onArgs<ClusterFacts>(
  {
    name: "etcd-minor-at-a-time",
    description: "etcd moves one minor version up at a time and never back a minor in place.",
    enforcementLevel: "mandatory",
  },
  types.cluster,
  (c) => rules.minorAtATime("etcd", c.deployedVersion, c.version),
);

export const etcdForceNewClusterOnlyInRestore = onArgs<MemberFacts>(
  {
    name: "etcd-force-new-cluster-only-in-restore",
    description: "force-new-cluster only in a classic restore (a restore spec present).",
    enforcementLevel: "mandatory",
  },
  types.member,
  rules.forceNewClusterOutsideRestore,
);

export const certificateSansCoverHost = onArgs<CertificateFacts>(
  {
    name: "certificate-sans-cover-host",
    description: "A host's serving certificate names the host by its name and its address.",
    enforcementLevel: "mandatory",
  },
  types.certificate,
  rules.sansCoverHost,
);

export const kubernetesMinorAtATime = onArgs<ControlPlaneFacts>(
  {
    name: "kubernetes-minor-at-a-time",
    description:
      "The API servers move one minor version at a time and never back a minor (version-skew policy).",
    enforcementLevel: "mandatory",
  },
  types.controlPlane,
  // Once per update: the first control-plane host's speaks for the release.
  (c) => (c.controlPlane[0] === c.host ? rules.minorAtATime("Kubernetes", c.deployedVersion, c.version) : []),
);

export const controlPlaneChangeWithHostDown = onArgs<ControlPlaneFacts>(
  {
    name: "control-plane-change-with-host-down",
    description:
      "No control-plane change (hosts joining or leaving, a new release) while one of its hosts is not running.",
    enforcementLevel: "mandatory",
  },
  types.controlPlane,
  (c) => (c.controlPlane[0] === c.host ? rules.controlPlaneChangeWithHostDown(c) : []),
);

/**
 * Fields of a command that reach a command line, the engine's log or the state in the clear. Not its stdin
 * nor its environment: they carry keys to a host or a local script on purpose (a pushed file set, a
 * member's leave), as secrets the engine keeps encrypted and out of the log.
 */
const commandFields = ["create", "update", "delete", "triggers", "interpreter"];

export const privateKeyInSecret: ResourceValidationPolicy = {
  name: "private-key-in-secret",
  description: "A private key only inside a secret: never in a command line, triggers or a component's args.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const isCommand = args.type === "command:remote:Command" || args.type === "command:local:Command";
    if (!isCommand && !args.type.startsWith("rwk:")) return;
    const props = args.props as Record<string, unknown>;
    const names = isCommand ? commandFields : Object.keys(props);
    const fields = Object.fromEntries(names.map((n) => [n, known(() => props[n])]));
    report(rules.privateKeyOutsideSecret(fields), reportViolation);
  },
};

export const etcdOddMemberCount: StackValidationPolicy = {
  name: "etcd-odd-member-count",
  description: "An etcd cluster at rest has an odd number of members: a pair survives no failure.",
  enforcementLevel: "advisory",
  validateStack: (args, reportViolation) => {
    const members = ofType(args.resources, types.member).map(
      (r) => known(() => r.props["name"] as string) ?? r.name,
    );
    const cluster = ofType(args.resources, types.cluster)[0];
    report(rules.evenMembers(members), reportViolation, cluster?.urn);
  },
};

export const certificateNotExpiring: StackValidationPolicy = {
  name: "certificate-not-expiring",
  description: "No serving certificate is left inside its early-renewal window by an update.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    for (const r of ofType(args.resources, types.certificate)) {
      const expiry = known(() => ({
        validityEndTime: r.props["validityEndTime"] as string,
        earlyRenewalHours: r.props["earlyRenewalHours"] as number,
        usages: r.props["usages"] as string[],
      }));
      // A certificate about to be (re)issued has no end time yet.
      if (expiry?.validityEndTime === undefined) continue;
      report(rules.expiresWithinRenewal(expiry, Date.now()), reportViolation, r.urn);
    }
  },
};

const versioned = (r: PolicyResource): Versioned | undefined =>
  known(() => ({ host: r.props["host"] as string, version: r.props["version"] as string }));

export const kubeletNotNewerThanApiserver: StackValidationPolicy = {
  name: "kubelet-not-newer-than-apiserver",
  description: "No kubelet runs a newer minor than any API server (version-skew policy).",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const apiservers = ofType(args.resources, types.controlPlane)
      .map(versioned)
      .filter((v): v is Versioned => v?.version !== undefined);
    for (const r of ofType(args.resources, types.kubelet)) {
      const kubelet = versioned(r);
      if (kubelet?.version === undefined) continue;
      report(rules.kubeletNewerThanApiservers(kubelet, apiservers), reportViolation, r.urn);
    }
  },
};

export const apiserverUsesEveryEtcdMember: StackValidationPolicy = {
  name: "apiserver-uses-every-etcd-member",
  description: "Every API server is pointed at every etcd member (--etcd-servers).",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const urls = ofType(args.resources, types.member).map((r) => known(() => r.props["clientUrl"] as string));
    // In preview a member's URL may not be known yet: nothing to compare with.
    if (urls.some((u) => u === undefined)) return;
    for (const r of ofType(args.resources, types.controlPlane)) {
      const servers = known(() => r.props["etcdServers"] as string[]);
      if (servers === undefined) continue;
      report(rules.apiserverEtcdServers(servers, urls as string[]), reportViolation, r.urn);
    }
  },
};

/** A backup's time, from the host's manifest (a JSON text); undefined while it is still to be taken. */
function backupTaken(r: PolicyResource): BackupTaken {
  const manifest = known(() => r.props["manifest"] as string);
  if (!manifest) return { name: r.name };
  try {
    const takenAt = (JSON.parse(manifest) as { takenAt?: unknown }).takenAt;
    return typeof takenAt === "string" ? { name: r.name, takenAt } : { name: r.name, takenAt: "" };
  } catch {
    return { name: r.name, takenAt: "" };
  }
}

export const recentBackup: StackValidationPolicy = {
  name: "recent-backup",
  description: "A stack with etcd keeps a backup taken in the last maxAgeHours (default 24).",
  enforcementLevel: "advisory",
  configSchema: { properties: { maxAgeHours: { type: "integer", minimum: 1, default: 24 } } },
  validateStack: (args, reportViolation) => {
    const cluster = ofType(args.resources, types.cluster)[0];
    if (!cluster || ofType(args.resources, types.member).length === 0) return;
    const maxAgeHours = args.getConfig<{ maxAgeHours?: number }>().maxAgeHours ?? 24;
    report(
      rules.noRecentBackup(ofType(args.resources, types.backup).map(backupTaken), maxAgeHours, Date.now()),
      reportViolation,
      cluster.urn,
    );
  },
};

/** Every policy of the pack, in the order the README lists them. */
export const policies = [
  etcdQuorumOnRemoval,
  etcdMembershipChain,
  etcdOddMemberCount,
  etcdForceNewClusterOnlyInRestore,
  etcdMinorAtATime,
  certificateSansCoverHost,
  certificateNotExpiring,
  privateKeyInSecret,
  kubeletNotNewerThanApiserver,
  kubernetesMinorAtATime,
  controlPlaneChangeWithHostDown,
  apiserverUsesEveryEtcdMember,
  recentBackup,
];
