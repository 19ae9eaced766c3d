// The one place stack configuration is read and checked. Everything else receives a validated
// StackConfig, so no component ever sees a value that was not checked here first.
import * as pulumi from "@pulumi/pulumi";

export const drivers = ["machines", "vagrant", "ssh"] as const;
export type Driver = (typeof drivers)[number];

export const hostStates = ["running", "stopped", "destroyed"] as const;
export type HostState = (typeof hostStates)[number];

export const vagrantProviders = ["libvirt", "virtualbox"] as const;
export type VagrantProvider = (typeof vagrantProviders)[number];

export const libvirtDrivers = ["qemu", "kvm"] as const;
export type LibvirtDriver = (typeof libvirtDrivers)[number];

export interface Subnet {
  cidr: string;
  /** Network address as a 32-bit number. */
  network: number;
  prefix: number;
  /** First usable address, reserved for the lab switch (the workshop's 172.17.8.1). */
  gateway: string;
}

export interface HostSpec {
  name: string;
  address: string;
  state: HostState;
  /** Login for the ssh driver; the local drivers always use root with the stack's key. */
  sshUser: string;
  sshPort: number;
}

export interface VagrantSpec {
  box: string;
  provider: VagrantProvider;
  memory: number;
  cpus: number;
  /** libvirt's domain type: kvm where hardware virtualization works, qemu (software emulation) elsewhere. */
  libvirtDriver: LibvirtDriver;
}

export const etcdTlsModes = ["off", "staged", "on"] as const;
/**
 * off: plaintext (the workshop's start); staged: certificates pushed and peers able to dial TLS, still
 * plaintext listeners (the first rolling step of securing a running cluster); on: mutual TLS on clients
 * and peers, no plaintext listener but metrics on localhost.
 */
export type EtcdTlsMode = (typeof etcdTlsModes)[number];

export interface EtcdSpec {
  /** Hosts running a member, in the order they joined. */
  members: string[];
  learner: boolean;
  tls: EtcdTlsMode;
  /** Raft timings in milliseconds: how often the leader beats, and how long followers wait for it. */
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
}

/** etcd's own defaults, and its limits: an election timeout of at least 5 heartbeats, at most 50 s. */
export const etcdTimingDefaults = { heartbeatIntervalMs: 100, electionTimeoutMs: 1000 } as const;
export const etcdTimingLimits = { heartbeatMin: 10, electionMax: 50000, ratio: 5 } as const;

export const keyAlgorithms = ["ECDSA", "RSA"] as const;
export const ecdsaCurves = ["P256", "P384"] as const;
export const rsaBitSizes = [2048, 3072, 4096] as const;

export interface PkiSpec {
  keyAlgorithm: (typeof keyAlgorithms)[number];
  ecdsaCurve: (typeof ecdsaCurves)[number];
  rsaBits: (typeof rsaBitSizes)[number];
  /** Validity of leaf certificates, and of the CA. */
  validityHours: number;
  caValidityHours: number;
  /** `pulumi up` reissues a certificate this long before it expires. */
  earlyRenewalHours: number;
  /** Raise to have every leaf certificate signed again (the cert-rotation drill). */
  rotation: number;
}

/** Taking a backup is a config change: a new id takes a new one, from this member. */
export interface BackupSpec {
  id: string;
  member: string;
}

export const restoreMethods = ["classic", "snapshot", "in-place"] as const;
/**
 * classic: the workshop's — the data-dir archive on the first member, started once with
 * force-new-cluster; snapshot: `etcdctl snapshot restore` into a new cluster of one; in-place: every
 * member restored from the same snapshot, as a new cluster.
 */
export type RestoreMethod = (typeof restoreMethods)[number];

export interface RestoreSpec {
  /** A backup directory (as `pulumi up` pulled it), relative to the project root. */
  from: string;
  method: RestoreMethod;
}

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
  pki: PkiSpec;
  backup?: BackupSpec;
  restore?: RestoreSpec;
  /** The stack's name when the user accepts that this update may lose etcd data (see dataLossProblems). */
  allowDataLoss: boolean;
}

/**
 * Every problem found in the configuration, reported at once. A RunError: the engine prints its message
 * alone, as the refusal it is, without "unhandled exception" and a stack trace.
 */
export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: string[]) {
    super(
      `invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** Raw values as the engine hands them over (defaults from Pulumi.yaml already applied). */
export const configKeys = [
  "driver",
  "subnet",
  "hosts",
  "hostStates",
  "vagrant",
  "etcdMembers",
  "etcdLearner",
  "etcdTls",
  "pki",
  "backup",
  "restore",
  "etcdHeartbeatInterval",
  "etcdElectionTimeout",
  "allowDataLoss",
] as const;
export type RawConfig = Partial<Record<(typeof configKeys)[number], unknown>>;

const hostNamePattern = /^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/;
/** A backup's id: it names a directory on the host and, with its time, the restored cluster. */
export const backupIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
/** One part of a path that reaches a host's shell or file system: no "..", no spaces, no shell syntax. */
export const pathPartPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const vagrantBoxPattern = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)?$/;

/** Reads this stack's configuration and validates it; throws ConfigError before anything is registered. */
export function loadConfig(): StackConfig & { sshPrivateKey: pulumi.Output<string> } {
  const config = new pulumi.Config();
  const raw: RawConfig = {};
  for (const key of configKeys) {
    const text = config.get(key);
    raw[key] = text === undefined ? undefined : parseValue(text);
  }
  const validated = validateConfig(raw, { project: pulumi.getProject(), stack: pulumi.getStack() });
  // Your own key for your own hosts (ssh driver); never read as plain text. Empty: the stack's own key.
  const sshPrivateKey = config.getSecret("sshPrivateKey") ?? pulumi.secret("");
  return { ...validated, sshPrivateKey };
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function validateConfig(raw: RawConfig, ctx: { project: string; stack: string }): StackConfig {
  const problems: string[] = [];
  const key = (k: string) => `${ctx.project}:${k}`;

  const driver = oneOf(raw.driver ?? "machines", drivers, key("driver"), problems) ?? "machines";
  const subnet = parseSubnet(raw.subnet ?? "172.17.8.0/24", key("subnet"), problems);
  if (subnet && driver === "machines" && subnet.prefix !== 24) {
    problems.push(
      `${key("subnet")}: the machines driver builds one /24 switch; use a /24 such as 172.17.8.0/24`,
    );
  }
  const hosts = parseHosts(raw.hosts, raw.hostStates ?? {}, subnet, driver, key, problems);
  const vagrant = parseVagrant(raw.vagrant ?? {}, key("vagrant"), problems);
  const etcd = parseEtcd(
    {
      members: raw.etcdMembers ?? [],
      learner: raw.etcdLearner ?? true,
      tls: raw.etcdTls ?? "on",
      heartbeat: raw.etcdHeartbeatInterval ?? etcdTimingDefaults.heartbeatIntervalMs,
      election: raw.etcdElectionTimeout ?? etcdTimingDefaults.electionTimeoutMs,
    },
    hosts,
    key,
    problems,
  );
  const pki = parsePki(raw.pki ?? {}, key("pki"), problems);
  const backup = parseBackup(raw.backup ?? {}, etcd, key("backup"), problems);
  const restore = parseRestore(raw.restore ?? {}, etcd, key("restore"), problems);
  // Only a config that is valid so far can be judged dangerous; otherwise its problems come first.
  const dangers = problems.length === 0 ? dataLossProblems(hosts, etcd, restore, ctx.stack, key) : [];
  const allowDataLoss = parseAllowDataLoss(raw.allowDataLoss ?? "", ctx.stack, key, problems);
  if (!allowDataLoss) problems.push(...dangers);
  const lab = labName(ctx.stack);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    project: ctx.project,
    stack: ctx.stack,
    lab,
    driver,
    subnet: subnet!,
    hosts,
    vagrant,
    etcd,
    pki,
    ...(backup ? { backup } : {}),
    ...(restore ? { restore } : {}),
    allowDataLoss,
  };
}

/** `allowDataLoss` counts only when it names this stack, so a value copied from another stack does nothing. */
function parseAllowDataLoss(
  value: unknown,
  stack: string,
  key: (k: string) => string,
  problems: string[],
): boolean {
  if (value === "" || value === stack) return value === stack;
  problems.push(
    `${key("allowDataLoss")}: ${JSON.stringify(value)} must be empty or this stack's name (${JSON.stringify(stack)})`,
  );
  return false;
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
  const quorum = Math.floor(etcd.members.length / 2) + 1;
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

/**
 * Lab names prefix Linux network namespaces and state directories: keep them short and plain, and
 * distinct per stack (a hash keeps two long stack names from colliding after truncation).
 */
export function labName(stack: string): string {
  const plain = stack
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  const name = `rwk-${plain || "stack"}`;
  if (name.length <= 24 && plain === stack) return name;
  return `${name.slice(0, 17).replace(/-+$/, "")}-${shortHash(stack)}`;
}

function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (const c of text) {
    h ^= c.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0").slice(0, 6);
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string, problems: string[]) {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  problems.push(`${name}: ${JSON.stringify(value)} is not one of ${allowed.join(", ")}`);
  return undefined;
}

/** An integer in [min, max], or a problem naming the key and the range. */
function intIn(
  value: unknown,
  min: number,
  max: number,
  name: string,
  problems: string[],
  what = "an integer",
): number | undefined {
  if (Number.isInteger(value) && (value as number) >= min && (value as number) <= max) return value as number;
  problems.push(`${name}: ${JSON.stringify(value)} must be ${what} from ${min} to ${max}`);
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An object with only the allowed keys: every other shape is a problem, named with what is allowed. */
function objectOf(
  value: unknown,
  allowed: string[],
  name: string,
  problems: string[],
): value is Record<string, unknown> {
  if (!isRecord(value)) {
    problems.push(`${name}: must be an object { ${allowed.join(", ")} }`);
    return false;
  }
  const unknownKeys = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknownKeys.length > 0) {
    problems.push(`${name}: unknown key(s) ${unknownKeys.join(", ")}; allowed: ${allowed.join(", ")}`);
  }
  return true;
}

export function parseIPv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

/** The network mask of a prefix length (8-30 here), as a number. */
export function prefixMask(prefix: number): number {
  return (0xffffffff << (32 - prefix)) >>> 0;
}

function parseSubnet(value: unknown, name: string, problems: string[]): Subnet | undefined {
  const m = typeof value === "string" ? /^([\d.]+)\/(\d{1,2})$/.exec(value) : null;
  const ip = m ? parseIPv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(prefix >= 8 && prefix <= 30)) {
    problems.push(
      `${name}: ${JSON.stringify(value)} is not an IPv4 CIDR with a prefix from /8 to /30 (e.g. 172.17.8.0/24)`,
    );
    return undefined;
  }
  const network = (ip & prefixMask(prefix)) >>> 0;
  if (network !== ip) {
    problems.push(
      `${name}: ${JSON.stringify(value)} has host bits set; did you mean ${formatIPv4(network)}/${prefix}?`,
    );
  }
  return { cidr: `${formatIPv4(network)}/${prefix}`, network, prefix, gateway: formatIPv4(network + 1) };
}

function inSubnet(address: number, subnet: Subnet): boolean {
  const size = 2 ** (32 - subnet.prefix);
  return address > subnet.network + 1 && address < subnet.network + size - 1;
}

function parseHosts(
  value: unknown,
  statesValue: unknown,
  subnet: Subnet | undefined,
  driver: Driver,
  key: (k: string) => string,
  problems: string[],
): HostSpec[] {
  const hosts: HostSpec[] = [];
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`${key("hosts")}: must be a non-empty list of { name, address } objects`);
    return hosts;
  }
  const states = isRecord(statesValue) ? statesValue : {};
  if (!isRecord(statesValue)) {
    problems.push(`${key("hostStates")}: must be an object of host name → ${hostStates.join("|")}`);
  }
  const seenNames = new Map<string, number>();
  const seenAddresses = new Map<string, number>();
  value.forEach((entry: unknown, i) => {
    const at = key(`hosts[${i}]`);
    if (!objectOf(entry, ["name", "address", "sshUser", "sshPort"], at, problems)) return;
    const name = entry["name"];
    if (typeof name !== "string" || !hostNamePattern.test(name)) {
      problems.push(`${at}.name: ${JSON.stringify(name)} must be 1-16 characters of a-z, 0-9 and inner "-"`);
    } else if (seenNames.has(name)) {
      problems.push(`${at}.name: duplicate host name "${name}" (also hosts[${seenNames.get(name)}])`);
    } else {
      seenNames.set(name, i);
    }
    const address = entry["address"];
    const ip = typeof address === "string" ? parseIPv4(address) : undefined;
    if (ip === undefined) {
      problems.push(`${at}.address: ${JSON.stringify(address)} is not an IPv4 address`);
    } else if (subnet && driver !== "ssh" && !inSubnet(ip, subnet)) {
      problems.push(
        `${at}.address: ${String(address)} is outside the lab subnet ${subnet.cidr} (usable: ` +
          `${formatIPv4(subnet.network + 2)} to ${formatIPv4(subnet.network + 2 ** (32 - subnet.prefix) - 2)})`,
      );
    } else if (seenAddresses.has(String(address))) {
      problems.push(
        `${at}.address: ${String(address)} is already used by hosts[${seenAddresses.get(String(address))}]`,
      );
    } else {
      seenAddresses.set(String(address), i);
    }
    const sshUser = entry["sshUser"] ?? "root";
    if (typeof sshUser !== "string" || !/^[a-z_][a-z0-9_-]*$/.test(sshUser)) {
      problems.push(`${at}.sshUser: ${JSON.stringify(sshUser)} is not a valid user name`);
    }
    const sshPort = intIn(entry["sshPort"] ?? 22, 1, 65535, `${at}.sshPort`, problems) ?? 22;
    const stateValue = typeof name === "string" ? (states[name] ?? "running") : "running";
    const state = oneOf(stateValue, hostStates, key(`hostStates.${String(name)}`), problems) ?? "running";
    if (driver === "ssh" && state !== "running") {
      problems.push(
        `${key(`hostStates.${String(name)}`)}: the ssh driver cannot power hosts off or destroy them; only "running" is allowed`,
      );
    }
    hosts.push({
      name: String(name),
      address: String(address),
      state,
      sshUser: typeof sshUser === "string" ? sshUser : "root",
      sshPort,
    });
  });
  for (const stateName of Object.keys(states)) {
    if (!seenNames.has(stateName)) {
      problems.push(`${key(`hostStates.${stateName}`)}: no host named "${stateName}" in ${key("hosts")}`);
    }
  }
  return hosts;
}

function parseVagrant(value: unknown, name: string, problems: string[]): VagrantSpec {
  const defaults: VagrantSpec = {
    box: "rwk/bookworm",
    provider: "libvirt",
    memory: 512,
    cpus: 1,
    libvirtDriver: "qemu",
  };
  if (!objectOf(value, Object.keys(defaults), name, problems)) return defaults;
  const box = value["box"] ?? defaults.box;
  if (typeof box !== "string" || !vagrantBoxPattern.test(box)) {
    problems.push(`${name}.box: ${JSON.stringify(box)} is not a box name like "owner/name"`);
  }
  const provider = oneOf(
    value["provider"] ?? defaults.provider,
    vagrantProviders,
    `${name}.provider`,
    problems,
  );
  const memory = intIn(
    value["memory"] ?? defaults.memory,
    256,
    16384,
    `${name}.memory`,
    problems,
    "an integer number of MiB",
  );
  const cpus = intIn(value["cpus"] ?? defaults.cpus, 1, 16, `${name}.cpus`, problems);
  const libvirtDriver = oneOf(
    value["libvirtDriver"] ?? defaults.libvirtDriver,
    libvirtDrivers,
    `${name}.libvirtDriver`,
    problems,
  );
  return {
    box: typeof box === "string" ? box : defaults.box,
    provider: provider ?? defaults.provider,
    memory: memory ?? defaults.memory,
    cpus: cpus ?? defaults.cpus,
    libvirtDriver: libvirtDriver ?? defaults.libvirtDriver,
  };
}

function parseEtcd(
  values: { members: unknown; learner: unknown; tls: unknown; heartbeat: unknown; election: unknown },
  hosts: HostSpec[],
  key: (k: string) => string,
  problems: string[],
): EtcdSpec {
  const { members: membersValue, learner: learnerValue, tls: tlsValue } = values;
  const members: string[] = [];
  if (!Array.isArray(membersValue) || membersValue.some((m) => typeof m !== "string")) {
    problems.push(`${key("etcdMembers")}: must be a list of host names`);
  } else {
    const known = new Set(hosts.map((h) => h.name));
    membersValue.forEach((m: string, i) => {
      if (!known.has(m)) {
        problems.push(
          `${key(`etcdMembers[${i}]`)}: "${m}" is not a host in ${key("hosts")} (${[...known].join(", ")})`,
        );
      } else if (members.includes(m)) {
        problems.push(`${key(`etcdMembers[${i}]`)}: "${m}" is listed twice`);
      } else {
        members.push(m);
      }
    });
  }
  const learner = learnerValue === "true" ? true : learnerValue === "false" ? false : learnerValue;
  if (typeof learner !== "boolean") {
    problems.push(`${key("etcdLearner")}: ${JSON.stringify(learnerValue)} must be true or false`);
  }
  const tls = oneOf(tlsValue, etcdTlsModes, key("etcdTls"), problems) ?? "on";
  const { heartbeatMin, electionMax, ratio } = etcdTimingLimits;
  const heartbeatIntervalMs =
    intIn(
      values.heartbeat,
      heartbeatMin,
      electionMax / ratio,
      key("etcdHeartbeatInterval"),
      problems,
      "an integer number of ms",
    ) ?? etcdTimingDefaults.heartbeatIntervalMs;
  const electionTimeoutMs =
    intIn(
      values.election,
      heartbeatMin * ratio,
      electionMax,
      key("etcdElectionTimeout"),
      problems,
      "an integer number of ms",
    ) ?? etcdTimingDefaults.electionTimeoutMs;
  if (electionTimeoutMs < ratio * heartbeatIntervalMs) {
    problems.push(
      `${key("etcdElectionTimeout")}: ${electionTimeoutMs} ms must be at least ${ratio} times ` +
        `${key("etcdHeartbeatInterval")} (${heartbeatIntervalMs} ms), or followers start elections while the leader is fine`,
    );
  }
  return { members, learner: learner === true, tls, heartbeatIntervalMs, electionTimeoutMs };
}

function parsePki(value: unknown, name: string, problems: string[]): PkiSpec {
  const defaults: PkiSpec = {
    keyAlgorithm: "ECDSA",
    ecdsaCurve: "P256",
    rsaBits: 2048,
    validityHours: 8760,
    caValidityHours: 87600,
    earlyRenewalHours: 720,
    rotation: 0,
  };
  if (!objectOf(value, Object.keys(defaults), name, problems)) return defaults;
  const keyAlgorithm = oneOf(
    value["keyAlgorithm"] ?? defaults.keyAlgorithm,
    keyAlgorithms,
    `${name}.keyAlgorithm`,
    problems,
  );
  const ecdsaCurve = oneOf(
    value["ecdsaCurve"] ?? defaults.ecdsaCurve,
    ecdsaCurves,
    `${name}.ecdsaCurve`,
    problems,
  );
  const rsaBits = value["rsaBits"] ?? defaults.rsaBits;
  if (!(rsaBitSizes as readonly unknown[]).includes(rsaBits)) {
    problems.push(`${name}.rsaBits: ${JSON.stringify(rsaBits)} is not one of ${rsaBitSizes.join(", ")}`);
  }
  const int = (k: keyof PkiSpec, min: number, max: number): number =>
    intIn(value[k] ?? defaults[k], min, max, `${name}.${k}`, problems) ?? (defaults[k] as number);
  const validityHours = int("validityHours", 1, 876000);
  const caValidityHours = int("caValidityHours", 1, 876000);
  const earlyRenewalHours = int("earlyRenewalHours", 0, 876000);
  const rotation = int("rotation", 0, 1000000);
  if (earlyRenewalHours >= validityHours) {
    problems.push(
      `${name}.earlyRenewalHours: ${earlyRenewalHours} must be less than validityHours (${validityHours}), or every up would renew`,
    );
  }
  if (validityHours > caValidityHours) {
    problems.push(
      `${name}.validityHours: ${validityHours} exceeds the CA's caValidityHours (${caValidityHours})`,
    );
  }
  return {
    keyAlgorithm: keyAlgorithm ?? defaults.keyAlgorithm,
    ecdsaCurve: ecdsaCurve ?? defaults.ecdsaCurve,
    rsaBits: rsaBits as PkiSpec["rsaBits"],
    validityHours,
    caValidityHours,
    earlyRenewalHours,
    rotation,
  };
}

function parseBackup(
  value: unknown,
  etcd: EtcdSpec,
  name: string,
  problems: string[],
): BackupSpec | undefined {
  if (!objectOf(value, ["id", "member"], name, problems) || Object.keys(value).length === 0) return undefined;
  const id = value["id"];
  if (typeof id !== "string" || !backupIdPattern.test(id)) {
    problems.push(
      `${name}.id: ${JSON.stringify(id)} must be 1-40 characters of letters, digits, ".", "_", "-"`,
    );
  }
  const member = value["member"] ?? etcd.members[0];
  if (typeof member !== "string" || !etcd.members.includes(member)) {
    problems.push(
      `${name}.member: ${JSON.stringify(member)} is not one of etcdMembers (${etcd.members.join(", ") || "none"})`,
    );
  }
  return { id: typeof id === "string" ? id : "", member: typeof member === "string" ? member : "" };
}

function parseRestore(
  value: unknown,
  etcd: EtcdSpec,
  name: string,
  problems: string[],
): RestoreSpec | undefined {
  if (!objectOf(value, ["from", "method"], name, problems) || Object.keys(value).length === 0)
    return undefined;
  const from = value["from"];
  // The directory's name becomes a path on the hosts: only plain names, so no value can be shell syntax.
  if (typeof from !== "string" || !from.split("/").every((part) => pathPartPattern.test(part))) {
    problems.push(
      `${name}.from: ${JSON.stringify(from)} must be a backup directory relative to the project root, ` +
        `such as backups/dev/core-01-20261125T120000Z: parts of letters, digits, ".", "_", "-", no ".."`,
    );
  }
  const method =
    oneOf(value["method"] ?? "snapshot", restoreMethods, `${name}.method`, problems) ?? "snapshot";
  if (etcd.members.length === 0) problems.push(`${name}: nothing to restore into: etcdMembers is empty`);
  return { from: typeof from === "string" ? from : "", method };
}
