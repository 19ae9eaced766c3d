// What a user sees when the program refuses a stack's config: the real CLI, as typed, on a throwaway
// stack. A refusal is a clean list (no "unhandled exception", no stack trace, no colour codes), exits
// non-zero and creates nothing; a valid preview prints no warning about outputs that do not apply.
import { CliStack } from "./cli-stack";

const stack = new CliStack("refusals-it", ["pulumi"], 300_000);
const pulumi = (...args: string[]) => stack.run(...args);
const configure = (config: Record<string, unknown>) => stack.configure(config);

/** The program's diagnostics block, as the CLI prints it. */
function diagnostics(out: string): string[] {
  const lines = out.split("\n");
  const start = lines.findIndex((l) => l.startsWith("    error: "));
  const end = lines.findIndex((l, i) => i > start && l.trim() === "");
  return lines.slice(start, end);
}

function expectCleanRefusal(out: string): void {
  expect(out).not.toMatch(/unhandled exception/);
  expect(out).not.toMatch(/^\s+at /m);
  // eslint-disable-next-line no-control-regex
  expect(out).not.toMatch(/\u001b\[/);
}

beforeAll(() => {
  expect(pulumi("stack", "init").code).toBe(0);
});

afterAll(() => stack.remove());

describe("refusals through the real CLI", () => {
  it("lists every config problem, naming the key and what is allowed, and nothing else", () => {
    configure({ driver: "docker", hostStates: { "core-02": "paused" } });
    for (const verb of ["preview", "up"]) {
      const { code, out } = pulumi(verb, ...(verb === "up" ? ["--yes"] : []));
      expect(code).not.toBe(0);
      expectCleanRefusal(out);
      expect(diagnostics(out)).toEqual([
        "    error: invalid stack configuration (2 problems):",
        '      - real-world-kubernetes:driver: "docker" is not one of machines, vagrant, ssh',
        '      - real-world-kubernetes:hostStates.core-02: "paused" is not one of running, stopped, destroyed',
      ]);
    }
  });

  it("refuses an empty member set unless allowDataLoss names the stack, and creates nothing", () => {
    configure({ etcdMembers: [] });
    const { code, out } = pulumi("up", "--yes");
    expect(code).not.toBe(0);
    expectCleanRefusal(out);
    expect(diagnostics(out)).toEqual([
      "    error: invalid stack configuration (1 problem):",
      "      - real-world-kubernetes:etcdMembers: an empty member set ends the etcd cluster (its last member " +
        "leaves; its data directory is kept on its host, renamed); set real-world-kubernetes:allowDataLoss " +
        'to "refusals-it" (this stack\'s name) to do it anyway',
    ]);
    expect(stack.resources()).toEqual([]);
  });

  it("refuses a control plane it cannot place, at preview, naming each key", () => {
    configure({
      controlPlane: ["core-01", "core-09"],
      serviceCidr: "172.17.8.0/28",
      kubernetesVersion: "1.35.0",
      pauseReplicas: -1,
      etcdMembers: [],
      allowDataLoss: stack.name,
    });
    const { code, out } = pulumi("preview");
    expect(code).not.toBe(0);
    expectCleanRefusal(out);
    expect(diagnostics(out)).toEqual([
      "    error: invalid stack configuration (5 problems):",
      '      - real-world-kubernetes:controlPlane[1]: "core-09" is not a host in real-world-kubernetes:hosts (core-01, core-02, core-03)',
      "      - real-world-kubernetes:serviceCidr: 172.17.8.0/28 overlaps the lab real-world-kubernetes:subnet (172.17.8.0/24)",
      "      - real-world-kubernetes:pauseReplicas: -1 must be an integer from 0 to 1000",
      "      - real-world-kubernetes:controlPlane: a control plane needs etcd: real-world-kubernetes:etcdMembers is empty",
      '      - real-world-kubernetes:kubernetesVersion: "1.35.0" is not one of 1.34.4, 1.33.13',
    ]);
  });

  it("refuses workers it cannot run, at preview, naming each key", () => {
    configure({
      controlPlane: ["core-01"],
      workers: ["core-02", "core-07"],
      podCidr: "10.3.0.0/16",
      webReplicas: 2,
      webMinAvailable: 2,
    });
    const { code, out } = pulumi("preview");
    expect(code).not.toBe(0);
    expectCleanRefusal(out);
    expect(diagnostics(out)).toEqual([
      "    error: invalid stack configuration (3 problems):",
      '      - real-world-kubernetes:workers[1]: "core-07" is not a host in real-world-kubernetes:hosts (core-01, core-02, core-03)',
      "      - real-world-kubernetes:serviceCidr: 10.3.0.0/24 overlaps real-world-kubernetes:podCidr (10.3.0.0/16)",
      "      - real-world-kubernetes:webMinAvailable: 2 of real-world-kubernetes:webReplicas (2) leaves no pod a drain may evict: removing a worker would wait forever; use at most 1",
    ]);
  });

  it("refuses a control plane on more hosts it cannot make highly available, at preview, naming each key", () => {
    configure({
      controlPlane: ["core-01", "core-02"],
      apiVirtualIp: "172.17.8.103",
      leaderElection: { leaseDuration: 10, renewDeadline: 12, retryPeriod: 2 },
    });
    let { code, out } = pulumi("preview");
    expect(code).not.toBe(0);
    expectCleanRefusal(out);
    expect(diagnostics(out)).toEqual([
      "    error: invalid stack configuration (2 problems):",
      "      - real-world-kubernetes:apiVirtualIp: 172.17.8.103 is core-03's address; use a free address of the lab subnet",
      "      - real-world-kubernetes:leaderElection.renewDeadline: 12 s must be less than leaseDuration (10 s): a leader must give up before the others may take over",
    ]);
    // Removing the last control-plane host while workers remain, and a virtual IP off the lab network.
    configure({ controlPlane: [], workers: ["core-02"], apiVirtualIp: "10.9.0.1" });
    ({ code, out } = pulumi("preview"));
    expect(code).not.toBe(0);
    expectCleanRefusal(out);
    expect(diagnostics(out)).toEqual([
      "    error: invalid stack configuration (3 problems):",
      "      - real-world-kubernetes:workers: a worker's kubelet registers with the API server: real-world-kubernetes:controlPlane is empty",
      "      - real-world-kubernetes:apiVirtualIp: 10.9.0.1 is outside the lab subnet 172.17.8.0/24 (usable: 172.17.8.2 to 172.17.8.254): keepalived moves it between hosts on one network",
      "      - real-world-kubernetes:apiVirtualIp: a virtual IP for the API servers needs real-world-kubernetes:controlPlane; it is empty",
    ]);
  });

  it("previews a valid stack without warnings about outputs that do not apply", () => {
    configure({ etcdTls: "off" });
    const { code, out } = pulumi("preview");
    expect(code).toBe(0);
    expect(out).not.toMatch(/Undefined value/);
    expect(out).not.toMatch(/warning/i);
  });
});
