import { execFileSync } from "child_process";
import type { VagrantSpec } from "../../config";
import { validateConfig } from "../../config";
import { renderVagrantfile } from "./vagrantfile";
import type { VagrantfileInput } from "./vagrantfile";

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
const input = (vagrant: Partial<VagrantSpec> = {}): VagrantfileInput => ({
  lab: "rwk-dev",
  subnet,
  hosts,
  vagrant: { ...libvirt, ...vagrant },
});

/** True if Ruby parses the text (the Vagrantfile is Ruby); skipped where no ruby is installed. */
function rubyParses(text: string): boolean | "no ruby" {
  try {
    execFileSync("ruby", ["-c"], { input: text, stdio: ["pipe", "pipe", "pipe"] });
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? "no ruby" : false;
  }
}

describe("the lab's Vagrantfile", () => {
  it("renders the default stack's three hosts for vagrant-libvirt under software emulation", () => {
    expect(renderVagrantfile(input())).toMatchSnapshot();
  });

  it("renders KVM without the TCG emulator wrapper", () => {
    const text = renderVagrantfile(input({ libvirtDriver: "kvm", memory: 1024, cpus: 2 }));
    expect(text).toContain('lv.driver = "kvm"');
    expect(text).toContain("lv.memory = 1024");
    expect(text).toContain("lv.cpus = 2");
    expect(text).not.toContain("emulator_path");
  });

  it("renders plain VirtualBox with Vagrant's own hostname and network configuration", () => {
    expect(renderVagrantfile(input({ provider: "virtualbox" }))).toMatchSnapshot();
  });

  it("lists the hosts sorted by name, each on its address, the domains named after the lab", () => {
    const text = renderVagrantfile(input());
    const defines = [...text.matchAll(/config\.vm\.define "([^"]+)"/g)].map((m) => m[1]);
    expect(defines).toEqual(["core-01", "core-02", "core-03"]);
    expect(text).toContain('ip: "172.17.8.102", netmask: "255.255.255.0", auto_config: false');
    expect(text).toContain('lv.default_prefix = "rwk-dev-"');
  });

  it("writes the netmask of the lab subnet", () => {
    const text = renderVagrantfile({ ...input(), subnet: { ...subnet, cidr: "10.1.0.0/16", prefix: 16 } });
    expect(text).toContain('netmask: "255.255.0.0"');
  });

  it("escapes what Ruby would interpolate in a string", () => {
    const text = renderVagrantfile({ ...input(), lab: 'a"b#{x}\\' });
    expect(text).toContain('lv.default_prefix = "a\\"b\\#{x}\\\\-"');
  });

  it("is valid Ruby, for the defaults as validated from stack config", () => {
    const config = validateConfig(
      { driver: "vagrant", hosts: hosts.slice(0, 1), etcdMembers: [], allowDataLoss: "vagrant-it" },
      { project: "real-world-kubernetes", stack: "vagrant-it" },
    );
    const text = renderVagrantfile({
      lab: config.lab,
      subnet: config.subnet,
      hosts: config.hosts,
      vagrant: config.vagrant,
    });
    expect(text).toContain('lv.default_prefix = "rwk-vagrant-it-"');
    const parsed = rubyParses(text);
    if (parsed !== "no ruby") expect(parsed).toBe(true);
  });
});
