// The one place stack configuration is read and checked. Everything else receives a validated
// StackConfig, so no component ever sees a value that was not checked here first.
import * as pulumi from "@pulumi/pulumi";
import { etcdConfigDefaults, parseEtcd } from "./etcd";
import type { EtcdSpec } from "./etcd";
import { hostsConfigDefaults, labName, parseHosts } from "./hosts";
import type { Driver, HostSpec, Subnet, VagrantSpec } from "./hosts";
import { kubernetesConfigDefaults, parseKubernetes } from "./kubernetes";
import type { KubernetesSpec } from "./kubernetes";
import { parsePki, pkiConfigDefaults } from "./pki";
import type { PkiSpec } from "./pki";
import { Problems } from "./problems";
import type { RawOf } from "./problems";
import { parseRecovery, recoveryConfigDefaults } from "./recovery";
import type { BackupSpec, RestoreSpec } from "./recovery";
import { parseAllowDataLoss, safetyConfigDefaults } from "./safety";

export * from "./etcd";
export * from "./hosts";
export * from "./kubernetes";
export * from "./pki";
export * from "./problems";
export * from "./recovery";
export * from "./safety";
export * from "./upgrade";

export interface StackConfig {
  project: string;
  stack: string;
  /** Name of this stack's lab: prefixes namespaces, machine names and state dirs, so stacks never clash. */
  lab: string;
  driver: Driver;
  subnet: Subnet;
  hosts: HostSpec[];
  vagrant: VagrantSpec;
  etcd: EtcdSpec;
  kubernetes: KubernetesSpec;
  pki: PkiSpec;
  backup?: BackupSpec;
  restore?: RestoreSpec;
  /** The stack's name when the user accepts that this update may lose etcd data (see dataLossProblems). */
  allowDataLoss: boolean;
}

/**
 * Every key validateConfig reads, with the default it applies when a stack leaves the key unset. The
 * engine applies Pulumi.yaml's defaults, which a unit test holds equal to these; applying them here too
 * lets everything that validates without the engine (mocks, the drill runner) skip reading Pulumi.yaml.
 */
export const configDefaults = {
  ...hostsConfigDefaults,
  ...etcdConfigDefaults,
  ...kubernetesConfigDefaults,
  ...pkiConfigDefaults,
  ...recoveryConfigDefaults,
  ...safetyConfigDefaults,
} as const;
export type ConfigKey = keyof typeof configDefaults;
export const configKeys = Object.keys(configDefaults) as ConfigKey[];
export type RawConfig = RawOf<typeof configDefaults>;

/** Keys read apart from the rest, as secrets, so their values never pass through plain text. */
export const secretConfigDefaults = { sshPrivateKey: "" } as const;

/** Reads this stack's configuration and validates it; throws ConfigError before anything is registered. */
export function loadConfig(): StackConfig & { sshPrivateKey: pulumi.Output<string> } {
  const config = new pulumi.Config();
  const raw: RawConfig = {};
  for (const key of configKeys) {
    const text = config.get(key);
    raw[key] = text === undefined ? undefined : parseValue(text);
  }
  const validated = validateConfig(raw, { project: pulumi.getProject(), stack: pulumi.getStack() });
  // Your own key for your own hosts (ssh driver). Empty: the stack's own key.
  const sshPrivateKey =
    config.getSecret("sshPrivateKey") ?? pulumi.secret(secretConfigDefaults.sshPrivateKey);
  return { ...validated, sshPrivateKey };
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Checks raw values, applying configDefaults to the keys left unset; throws every problem at once. */
export function validateConfig(raw: RawConfig, ctx: { project: string; stack: string }): StackConfig {
  const p = new Problems(ctx.project);
  const { driver, subnet, hosts, vagrant } = parseHosts(raw, p);
  const etcd = parseEtcd(raw, hosts, p);
  const kubernetes = parseKubernetes(raw, { hosts, subnet, etcd }, p);
  const pki = parsePki(raw, p);
  const { backup, restore } = parseRecovery(raw, etcd, p);
  const allowDataLoss = parseAllowDataLoss(raw, { hosts, etcd, restore }, ctx.stack, p);
  p.throwIfAny();
  return {
    project: ctx.project,
    stack: ctx.stack,
    lab: labName(ctx.stack),
    driver,
    subnet: subnet!,
    hosts,
    vagrant,
    etcd,
    kubernetes,
    pki,
    ...(backup ? { backup } : {}),
    ...(restore ? { restore } : {}),
    allowDataLoss,
  };
}
