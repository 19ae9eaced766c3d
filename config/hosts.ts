// The inventory: where hosts come from (driver, subnet, vagrant), which hosts there are and in which
// state, and the lab they live in.
import { isRecord } from "./problems";
import type { Problems, RawOf } from "./problems";

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

/** What a host entry may leave out. */
export const hostDefaults = { sshUser: "root", sshPort: 22, state: "running" } as const;

export const vagrantDefaults: Readonly<VagrantSpec> = {
  box: "rwk/bookworm",
  provider: "libvirt",
  memory: 512,
  cpus: 1,
  libvirtDriver: "qemu",
};

/** The workshop's three hosts, as its Vagrantfile had them. */
export const hostsConfigDefaults = {
  driver: "machines",
  subnet: "172.17.8.0/24",
  hosts: [
    { name: "core-01", address: "172.17.8.101" },
    { name: "core-02", address: "172.17.8.102" },
    { name: "core-03", address: "172.17.8.103" },
  ],
  hostStates: {},
  vagrant: vagrantDefaults,
} as const;

const hostNamePattern = /^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/;
const vagrantBoxPattern = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)?$/;

export function parseHosts(
  raw: RawOf<typeof hostsConfigDefaults>,
  p: Problems,
): { driver: Driver; subnet: Subnet | undefined; hosts: HostSpec[]; vagrant: VagrantSpec } {
  const defaults = hostsConfigDefaults;
  const driver = p.oneOf("driver", raw.driver ?? defaults.driver, drivers) ?? defaults.driver;
  const subnet = parseCidr("subnet", raw.subnet ?? defaults.subnet, p);
  if (subnet && driver === "machines" && subnet.prefix !== 24) {
    p.add("subnet", "the machines driver builds one /24 switch; use a /24 such as 172.17.8.0/24");
  }
  const hosts = parseInventory(
    raw.hosts ?? defaults.hosts,
    raw.hostStates ?? defaults.hostStates,
    subnet,
    driver,
    p,
  );
  const vagrant = parseVagrant(raw.vagrant ?? defaults.vagrant, p);
  return { driver, subnet, hosts, vagrant };
}

/** A list of inventory hosts by name, each at most once: where something is placed (etcdMembers, roles). */
export function parseHostNames(path: string, value: unknown, hosts: HostSpec[], p: Problems): string[] {
  const names: string[] = [];
  if (!Array.isArray(value) || value.some((m) => typeof m !== "string")) {
    p.add(path, "must be a list of host names");
    return names;
  }
  const known = new Set(hosts.map((h) => h.name));
  value.forEach((m: string, i) => {
    if (!known.has(m)) {
      p.add(`${path}[${i}]`, `"${m}" is not a host in ${p.key("hosts")} (${[...known].join(", ")})`);
    } else if (names.includes(m)) {
      p.add(`${path}[${i}]`, `"${m}" is listed twice`);
    } else {
      names.push(m);
    }
  });
  return names;
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

/** An IPv4 CIDR with a prefix from /8 to /30 under key `path`; example: what the message suggests. */
export function parseCidr(
  path: string,
  value: unknown,
  p: Problems,
  example = "172.17.8.0/24",
): Subnet | undefined {
  const m = typeof value === "string" ? /^([\d.]+)\/(\d{1,2})$/.exec(value) : null;
  const ip = m ? parseIPv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(prefix >= 8 && prefix <= 30)) {
    p.add(
      path,
      `${JSON.stringify(value)} is not an IPv4 CIDR with a prefix from /8 to /30 (e.g. ${example})`,
    );
    return undefined;
  }
  const network = (ip & prefixMask(prefix)) >>> 0;
  if (network !== ip) {
    p.add(path, `${JSON.stringify(value)} has host bits set; did you mean ${formatIPv4(network)}/${prefix}?`);
  }
  return { cidr: `${formatIPv4(network)}/${prefix}`, network, prefix, gateway: formatIPv4(network + 1) };
}

/** Whether two CIDRs share any address. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  const end = (s: Subnet) => s.network + 2 ** (32 - s.prefix) - 1;
  return a.network <= end(b) && b.network <= end(a);
}

function inSubnet(address: number, subnet: Subnet): boolean {
  const size = 2 ** (32 - subnet.prefix);
  return address > subnet.network + 1 && address < subnet.network + size - 1;
}

function parseInventory(
  value: unknown,
  statesValue: unknown,
  subnet: Subnet | undefined,
  driver: Driver,
  p: Problems,
): HostSpec[] {
  const hosts: HostSpec[] = [];
  if (!Array.isArray(value) || value.length === 0) {
    p.add("hosts", "must be a non-empty list of { name, address } objects");
    return hosts;
  }
  const states = isRecord(statesValue) ? statesValue : {};
  if (!isRecord(statesValue)) {
    p.add("hostStates", `must be an object of host name → ${hostStates.join("|")}`);
  }
  const seenNames = new Map<string, number>();
  const seenAddresses = new Map<string, number>();
  value.forEach((entry: unknown, i) => {
    const at = `hosts[${i}]`;
    if (!p.objectOf(at, entry, ["name", "address", "sshUser", "sshPort"])) return;
    const name = entry["name"];
    if (typeof name !== "string" || !hostNamePattern.test(name)) {
      p.add(`${at}.name`, `${JSON.stringify(name)} must be 1-16 characters of a-z, 0-9 and inner "-"`);
    } else if (seenNames.has(name)) {
      p.add(`${at}.name`, `duplicate host name "${name}" (also hosts[${seenNames.get(name)}])`);
    } else {
      seenNames.set(name, i);
    }
    const address = entry["address"];
    const ip = typeof address === "string" ? parseIPv4(address) : undefined;
    if (ip === undefined) {
      p.add(`${at}.address`, `${JSON.stringify(address)} is not an IPv4 address`);
    } else if (subnet && driver !== "ssh" && !inSubnet(ip, subnet)) {
      p.add(
        `${at}.address`,
        `${String(address)} is outside the lab subnet ${subnet.cidr} (usable: ` +
          `${formatIPv4(subnet.network + 2)} to ${formatIPv4(subnet.network + 2 ** (32 - subnet.prefix) - 2)})`,
      );
    } else if (seenAddresses.has(String(address))) {
      p.add(
        `${at}.address`,
        `${String(address)} is already used by hosts[${seenAddresses.get(String(address))}]`,
      );
    } else {
      seenAddresses.set(String(address), i);
    }
    const sshUser = entry["sshUser"] ?? hostDefaults.sshUser;
    if (typeof sshUser !== "string" || !/^[a-z_][a-z0-9_-]*$/.test(sshUser)) {
      p.add(`${at}.sshUser`, `${JSON.stringify(sshUser)} is not a valid user name`);
    }
    const sshPort =
      p.intIn(`${at}.sshPort`, entry["sshPort"] ?? hostDefaults.sshPort, 1, 65535) ?? hostDefaults.sshPort;
    const stateKey = `hostStates.${String(name)}`;
    const stateValue = typeof name === "string" ? (states[name] ?? hostDefaults.state) : hostDefaults.state;
    const state = p.oneOf(stateKey, stateValue, hostStates) ?? hostDefaults.state;
    if (driver === "ssh" && state !== "running") {
      p.add(stateKey, 'the ssh driver cannot power hosts off or destroy them; only "running" is allowed');
    }
    hosts.push({
      name: String(name),
      address: String(address),
      state,
      sshUser: typeof sshUser === "string" ? sshUser : hostDefaults.sshUser,
      sshPort,
    });
  });
  for (const stateName of Object.keys(states)) {
    if (!seenNames.has(stateName)) {
      p.add(`hostStates.${stateName}`, `no host named "${stateName}" in ${p.key("hosts")}`);
    }
  }
  return hosts;
}

function parseVagrant(value: unknown, p: Problems): VagrantSpec {
  const defaults = vagrantDefaults;
  if (!p.objectOf("vagrant", value, Object.keys(defaults))) return { ...defaults };
  const box = value["box"] ?? defaults.box;
  if (typeof box !== "string" || !vagrantBoxPattern.test(box)) {
    p.add("vagrant.box", `${JSON.stringify(box)} is not a box name like "owner/name"`);
  }
  const provider = p.oneOf("vagrant.provider", value["provider"] ?? defaults.provider, vagrantProviders);
  const memory = p.intIn(
    "vagrant.memory",
    value["memory"] ?? defaults.memory,
    256,
    16384,
    "an integer number of MiB",
  );
  const cpus = p.intIn("vagrant.cpus", value["cpus"] ?? defaults.cpus, 1, 16);
  const libvirtDriver = p.oneOf(
    "vagrant.libvirtDriver",
    value["libvirtDriver"] ?? defaults.libvirtDriver,
    libvirtDrivers,
  );
  return {
    box: typeof box === "string" ? box : defaults.box,
    provider: provider ?? defaults.provider,
    memory: memory ?? defaults.memory,
    cpus: cpus ?? defaults.cpus,
    libvirtDriver: libvirtDriver ?? defaults.libvirtDriver,
  };
}
