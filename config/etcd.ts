// etcd's member set and how its members run: joining, TLS, raft timings.
import { parseHostNames } from "./hosts";
import type { HostSpec } from "./hosts";
import { isRecord } from "./problems";
import type { Problems, RawOf } from "./problems";
import { cluster } from "../versions.json";

/** The etcd versions this project builds (versions.json, the first is the default). */
export const etcdVersions: readonly string[] = cluster.etcd;

export const etcdTlsModes = ["off", "staged", "on"] as const;
/**
 * off: plaintext (the workshop's start); staged: certificates pushed and peers able to dial TLS, still
 * plaintext listeners (the first rolling step of securing a running cluster); on: mutual TLS on clients
 * and peers, no plaintext listener but metrics on localhost.
 */
export type EtcdTlsMode = (typeof etcdTlsModes)[number];

/** Whether a member's etcd runs (running) or is stopped on purpose, its host up (the api-etcd-outage drill). */
export const memberStates = ["running", "stopped"] as const;
export type MemberState = (typeof memberStates)[number];

export interface EtcdSpec {
  /** The etcd release every member runs (built here: see etcdVersions). */
  version: string;
  /** Hosts running a member, in the order they joined. */
  members: string[];
  learner: boolean;
  /** Members whose etcd is stopped (etcdMemberStates); every other member runs. */
  stopped: string[];
  tls: EtcdTlsMode;
  /** Raft timings in milliseconds: how often the leader beats, and how long followers wait for it. */
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
}

/** etcd's own defaults, and its limits: an election timeout of at least 5 heartbeats, at most 50 s. */
export const etcdTimingDefaults = { heartbeatIntervalMs: 100, electionTimeoutMs: 1000 } as const;
export const etcdTimingLimits = { heartbeatMin: 10, electionMax: 50000, ratio: 5 } as const;

/** The workshop starts with one member on the first host and grows it step by step. */
export const etcdConfigDefaults = {
  etcdVersion: cluster.etcd[0]!,
  etcdMembers: ["core-01"],
  etcdLearner: true,
  etcdMemberStates: {},
  etcdTls: "on",
  etcdHeartbeatInterval: etcdTimingDefaults.heartbeatIntervalMs,
  etcdElectionTimeout: etcdTimingDefaults.electionTimeoutMs,
} as const;

export function parseEtcd(raw: RawOf<typeof etcdConfigDefaults>, hosts: HostSpec[], p: Problems): EtcdSpec {
  const defaults = etcdConfigDefaults;
  const version =
    p.oneOf("etcdVersion", raw.etcdVersion ?? defaults.etcdVersion, etcdVersions) ?? defaults.etcdVersion;
  const members = parseHostNames("etcdMembers", raw.etcdMembers ?? defaults.etcdMembers, hosts, p);
  const learnerValue = raw.etcdLearner ?? defaults.etcdLearner;
  // The CLI's `pulumi config set etcdLearner false` stores a string.
  const learner = learnerValue === "true" ? true : learnerValue === "false" ? false : learnerValue;
  if (typeof learner !== "boolean") {
    p.add("etcdLearner", `${JSON.stringify(learnerValue)} must be true or false`);
  }
  const stopped = parseMemberStates(raw.etcdMemberStates ?? defaults.etcdMemberStates, members, p);
  const tls = p.oneOf("etcdTls", raw.etcdTls ?? defaults.etcdTls, etcdTlsModes) ?? defaults.etcdTls;
  const { heartbeatMin, electionMax, ratio } = etcdTimingLimits;
  const heartbeatIntervalMs =
    p.intIn(
      "etcdHeartbeatInterval",
      raw.etcdHeartbeatInterval ?? defaults.etcdHeartbeatInterval,
      heartbeatMin,
      electionMax / ratio,
      "an integer number of ms",
    ) ?? etcdTimingDefaults.heartbeatIntervalMs;
  const electionTimeoutMs =
    p.intIn(
      "etcdElectionTimeout",
      raw.etcdElectionTimeout ?? defaults.etcdElectionTimeout,
      heartbeatMin * ratio,
      electionMax,
      "an integer number of ms",
    ) ?? etcdTimingDefaults.electionTimeoutMs;
  if (electionTimeoutMs < ratio * heartbeatIntervalMs) {
    p.add(
      "etcdElectionTimeout",
      `${electionTimeoutMs} ms must be at least ${ratio} times ` +
        `${p.key("etcdHeartbeatInterval")} (${heartbeatIntervalMs} ms), or followers start elections while the leader is fine`,
    );
  }
  return {
    version,
    members,
    learner: learner === true,
    stopped,
    tls,
    heartbeatIntervalMs,
    electionTimeoutMs,
  };
}

/** etcdMemberStates: member host → running | stopped; the members stopped, in member order. */
function parseMemberStates(value: unknown, members: string[], p: Problems): string[] {
  if (!isRecord(value)) {
    p.add("etcdMemberStates", `must be an object of member host → ${memberStates.join("|")}`);
    return [];
  }
  for (const [host, state] of Object.entries(value)) {
    if (!members.includes(host)) {
      p.add(
        `etcdMemberStates.${host}`,
        `"${host}" is not in ${p.key("etcdMembers")} (${members.join(", ")})`,
      );
    } else {
      p.oneOf(`etcdMemberStates.${host}`, state, memberStates);
    }
  }
  return members.filter((m) => value[m] === "stopped");
}

/** What a member set of this size can survive, for preview warnings and docs. */
export function faultTolerance(size: number): { quorum: number; tolerates: number } {
  const quorum = Math.floor(size / 2) + 1;
  return { quorum, tolerates: size - quorum };
}

/** Warnings that `pulumi preview` shows for a member set of this size (the program, and the policy pack). */
export function sizeWarnings(members: string[]): string[] {
  const n = members.length;
  const { quorum, tolerates } = faultTolerance(n);
  if (n === 2) {
    return [
      `etcd has 2 members (${members.join(", ")}): quorum is 2 of 2, so this pair survives no failure; ` +
        "add a third member (etcdMembers) before relying on it",
    ];
  }
  if (n > 2 && n % 2 === 0) {
    return [
      `etcd has ${n} members (${members.join(", ")}): quorum is ${quorum}, so it tolerates ${tolerates} ` +
        `failure(s), no more than ${n - 1} members would; add or remove one (etcdMembers)`,
    ];
  }
  return [];
}
