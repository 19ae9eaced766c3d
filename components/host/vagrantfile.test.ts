import { execFileSync } from "child_process";
import type { VagrantSpec } from "../../config";
import { validateConfig } from "../../config";
import { renderVagrantHost, renderVagrantLab } from "./vagrantfile";
import type { VagrantHostInput, VagrantLabInput } from "./vagrantfile";

const subnet = { cidr: "172.17.8.0/24", network: 0xac110800, prefix: 24, gateway: "172.17.8.1" };
const hosts = [
  { name: "core-03", address: "172.17.8.103" },
  { name: "core-01", address: "172.17.8.101" },
  { name: "core-02", address: "172.17.8.102" },
];
const libvirt: VagrantSpec = {
  box: "rwk/bookworm",
  provider: "libvirt",
  memory: 512,
  cpus: 1,
  libvirtDriver: "qemu",
};
const labInput = (vagrant: Partial<VagrantSpec> = {}): VagrantLabInput => ({
  lab: "rwk-dev",
  subnet,
  vagrant: { ...libvirt, ...vagrant },
});
const hostInput = (host = hosts[1]!, provider: VagrantSpec["provider"] = "libvirt"): VagrantHostInput => ({
  lab: "rwk-dev",
  subnet,
  host,
  provider,
});

/**
 * The lab's Vagrantfile as lab/drivers/vagrant.sh joins it (join_vagrantfile): the lab's part, then each
 * host's part in the order of the host names, each as `printf '%s\n'` kept it.
 */
function joined(lab: string, hostParts: Record<string, string>): string {
  const parts = [
    lab,
    ...Object.keys(hostParts)
      .sort()
      .map((name) => hostParts[name]!),
  ];
  return parts.map((p) => `${p}\n`).join("");
}

/**
 * Ruby's verdict on the text: "Syntax OK", or its error. `./rwk setup` installs ruby, so a missing one
 * fails here rather than passing unchecked.
 */
function rubyCheck(text: string): string {
  try {
    return execFileSync("ruby", ["-c"], { input: text, stdio: ["pipe", "pipe", "pipe"] })
      .toString()
      .trim();
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === "ENOENT") throw new Error("ruby is not installed: run ./rwk setup");
    return err.stderr?.toString().trim() ?? String(e);
  }
}

describe("the lab's Vagrantfile", () => {
  it("renders the lab's part for vagrant-libvirt under software emulation", () => {
    expect(renderVagrantLab(labInput())).toMatchSnapshot();
  });

  it("renders a host's part for vagrant-libvirt", () => {
    expect(renderVagrantHost(hostInput())).toMatchSnapshot();
  });

  it("renders KVM without the TCG emulator wrapper", () => {
    const text = renderVagrantLab(labInput({ libvirtDriver: "kvm", memory: 1024, cpus: 2 }));
    expect(text).toContain('lv.driver = "kvm"');
    expect(text).toContain("lv.memory = 1024");
    expect(text).toContain("lv.cpus = 2");
    expect(text).not.toContain("emulator_path");
  });

  it("renders plain VirtualBox with Vagrant's own hostname and network configuration", () => {
    expect(renderVagrantLab(labInput({ provider: "virtualbox" }))).toMatchSnapshot();
    expect(renderVagrantHost(hostInput(hosts[1], "virtualbox"))).toMatchSnapshot();
  });

  it("puts each host on its address, the domains named after the lab", () => {
    const text = renderVagrantHost(hostInput(hosts[2]));
    expect([...text.matchAll(/config\.vm\.define "([^"]+)"/g)].map((m) => m[1])).toEqual(["core-02"]);
    expect(text).toContain('ip: "172.17.8.102", netmask: "255.255.255.0", auto_config: false');
    expect(renderVagrantLab(labInput())).toContain('lv.default_prefix = "rwk-dev-"');
  });

  it("gives a host's part nothing of the other hosts, so adding a host changes no other host's part", () => {
    const part = renderVagrantHost(hostInput(hosts[1]));
    for (const other of ["core-02", "core-03", "172.17.8.102", "172.17.8.103"]) {
      expect(part).not.toContain(other);
    }
    const lab = renderVagrantLab(labInput());
    expect(lab).not.toContain("config.vm.define");
    expect(lab).not.toContain("core-0");
  });

  it("writes the netmask of the lab subnet", () => {
    const text = renderVagrantHost({
      ...hostInput(),
      subnet: { ...subnet, cidr: "10.1.0.0/16", prefix: 16 },
    });
    expect(text).toContain('netmask: "255.255.0.0"');
  });

  it("escapes what Ruby would interpolate in a string", () => {
    const text = renderVagrantLab({ ...labInput(), lab: 'a"b#{x}\\' });
    expect(text).toContain('lv.default_prefix = "a\\"b\\#{x}\\\\-"');
  });

  it("is valid Ruby, each part and the parts joined, for the defaults as validated from stack config", () => {
    const config = validateConfig(
      { driver: "vagrant", hosts, etcdMembers: [], allowDataLoss: "vagrant-it" },
      { project: "real-world-kubernetes", stack: "vagrant-it" },
    );
    const lab = renderVagrantLab({ lab: config.lab, subnet: config.subnet, vagrant: config.vagrant });
    expect(lab).toContain('lv.default_prefix = "rwk-vagrant-it-"');
    const hostParts = Object.fromEntries(
      config.hosts.map((h) => [
        h.name,
        renderVagrantHost({
          lab: config.lab,
          subnet: config.subnet,
          host: h,
          provider: config.vagrant.provider,
        }),
      ]),
    );
    for (const text of [lab, ...Object.values(hostParts), joined(lab, hostParts)]) {
      expect(rubyCheck(text)).toBe("Syntax OK");
    }
  });

  it("fails a Vagrantfile that does not parse", () => {
    const broken = renderVagrantHost(hostInput()).replace(/\nend\n$/, "\n");
    expect(rubyCheck(broken)).toMatch(/syntax error/);
  });
});
