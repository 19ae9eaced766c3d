// The workshop's three hosts on the local lab, through the real engine: up, SSH into each, stop one,
// destroy it, bring a fresh one back, notice a host killed behind Pulumi's back, and leave nothing behind.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Stack } from "@pulumi/pulumi/automation";
import { labName } from "../../config";
import { driverScript, labLeftovers, run } from "../../workstation/lab";
import { sshArgs } from "../../workstation/ssh";
import { throwawayStack } from "../../workstation/stack";
import type { ThrowawayStack } from "../../workstation/stack";

// throwawayStack names the stack run-<name>, and the lab after it.
const stackName = "run-hosts-it";
const lab = labName(stackName);
const hosts = [
  { name: "core-01", address: "172.17.8.101" },
  { name: "core-02", address: "172.17.8.102" },
  { name: "core-03", address: "172.17.8.103" },
];

// The stack's key file lives here.
const work = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-hosts-it-"));

let b: ThrowawayStack;
let stack: Stack;

function writeStackConfig(states: Record<string, string>): void {
  // Hosts alone, no etcd: an empty member set is allowed only when the stack says so.
  b.configure({ hosts, hostStates: states, etcdMembers: [], allowDataLoss: stackName });
}

let keyFile = "";
let outputs: Record<string, unknown> = {};

async function up(states: Record<string, string>): Promise<Record<string, number>> {
  writeStackConfig(states);
  const result = await stack.up({ color: "never" });
  outputs = Object.fromEntries(
    Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value as unknown]),
  );
  return result.summary.resourceChanges ?? {};
}

async function ssh(host: string, command: string) {
  return run([...sshArgs(outputs, keyFile, host), command], { timeoutMs: 30_000 });
}

async function sshOk(host: string, command: string): Promise<string> {
  const r = await ssh(host, command);
  if (r.code !== 0) throw new Error(`ssh ${host} ${command}: exit ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

const status = async (host: string) =>
  (await run([driverScript("machines"), "status", lab, host])).stdout.trim();

beforeAll(async () => {
  b = await throwawayStack("hosts-it");
  stack = b.stack;
  writeStackConfig({});
});

afterAll(async () => {
  try {
    await b.dispose();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

describe("lab hosts through the real engine", () => {
  it("brings up three hosts with systemd, the right hostname and address", async () => {
    await up({});
    keyFile = path.join(work, "id");
    fs.writeFileSync(keyFile, `${String(outputs["sshPrivateKey"])}\n`, { mode: 0o600 });
    for (const h of hosts) {
      expect(await sshOk(h.name, "systemctl is-system-running || true")).toMatch(/^(running|degraded)$/);
      expect(await sshOk(h.name, "hostname")).toBe(h.name);
      expect(await sshOk(h.name, "ip -4 -o addr show eth0")).toContain(` ${h.address}/24 `);
    }
    // The hosts see each other on the lab network, as the workshop's did.
    expect(await sshOk("core-01", "ping -c1 -W2 172.17.8.103 >/dev/null && echo ok")).toBe("ok");
    expect(await stack.preview({ color: "never" })).toMatchObject({
      changeSummary: { same: expect.any(Number) as number },
    });
  });

  it("stops core-02: unreachable, the others fine", async () => {
    const changes = await up({ "core-02": "stopped" });
    expect(changes).toMatchObject({ update: 1 });
    expect(await status("core-02")).toBe("stopped");
    expect((await ssh("core-02", "true")).code).not.toBe(0);
    for (const h of ["core-01", "core-03"]) expect(await sshOk(h, "hostname")).toBe(h);
  });

  it("destroys core-02, then brings a fresh core-02 back", async () => {
    const info = (await run([driverScript("machines"), "info", lab, "core-02"])).stdout;
    const oldId = (JSON.parse(info) as { machineId: string }).machineId;
    await up({ "core-02": "destroyed" });
    expect(await status("core-02")).toBe("absent");
    await up({ "core-02": "running" });
    const newId = await sshOk("core-02", "cat /etc/machine-id");
    expect(newId).toMatch(/^[0-9a-f]{32}$/);
    expect(newId).not.toBe(oldId);
    expect(await sshOk("core-02", "hostname")).toBe("core-02");
  });

  it("notices on refresh a host killed behind its back, and brings it back on up", async () => {
    await run([driverScript("machines"), "kill", lab, "core-03"]);
    const started = Date.now();
    await stack.refresh({ color: "never" });
    expect(Date.now() - started).toBeLessThan(5 * 60_000);
    const preview = await stack.preview({ color: "never" });
    expect(preview.changeSummary["update"]).toBe(1);
    await up({});
    expect(await sshOk("core-03", "hostname")).toBe("core-03");
  });

  it("refuses bad host config at preview, naming each key, and changes nothing", async () => {
    b.configure({
      driver: "docker",
      hosts: [...hosts, { name: "core-01", address: "10.1.1.1" }],
      hostStates: { "core-02": "paused" },
      etcdMembers: [],
      allowDataLoss: stackName,
    });
    const error = await stack.preview({ color: "never" }).then(
      () => "",
      (e: unknown) => String(e),
    );
    expect(error).toContain('real-world-kubernetes:driver: "docker" is not one of machines, vagrant, ssh');
    expect(error).toContain(
      'real-world-kubernetes:hosts[3].name: duplicate host name "core-01" (also hosts[0])',
    );
    expect(error).toContain(
      "real-world-kubernetes:hosts[3].address: 10.1.1.1 is outside the lab subnet 172.17.8.0/24",
    );
    expect(error).toContain(
      'real-world-kubernetes:hostStates.core-02: "paused" is not one of running, stopped, destroyed',
    );
    for (const h of hosts) expect(await status(h.name)).toBe("running");
    writeStackConfig({});
    expect((await stack.preview({ color: "never" })).changeSummary["update"] ?? 0).toBe(0);
  });

  it("pulumi destroy leaves no namespace, mount, process or state of the lab", async () => {
    writeStackConfig({});
    await stack.destroy({ color: "never" });
    expect(await labLeftovers("machines", lab)).toEqual([]);
  });
});
