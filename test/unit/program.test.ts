// The whole program under Pulumi mocks: which resources it registers, with which names and inputs.
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const project = "real-world-kubernetes";
const root = path.join(__dirname, "..", "..");

/** Config as the engine would pass it: Pulumi.yaml defaults, overridden by the scenario. */
function stackConfig(overrides: Record<string, unknown>): Record<string, string> {
  const file = yaml.load(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as {
    config: Record<string, { default?: unknown }>;
  };
  const out: Record<string, string> = {};
  for (const [key, decl] of Object.entries(file.config)) {
    const value = key in overrides ? overrides[key] : decl.default;
    if (value !== undefined)
      out[`${project}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return out;
}

async function runProgram(overrides: Record<string, unknown> = {}, stack = "dev"): Promise<Registered[]> {
  const registered: Registered[] = [];
  pulumi.runtime.setAllConfig(stackConfig(overrides));
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = args.inputs as Record<string, unknown>;
        registered.push({ type: args.type, name: args.name, inputs });
        const outputs: Record<string, unknown> = { ...inputs };
        if (args.type === "pulumi-nodejs:dynamic/rwk:Machine")
          Object.assign(outputs, { sshPort: 2222, machineId: `id-${args.name}` });
        if (args.type === "tls:index/privateKey:PrivateKey") {
          Object.assign(outputs, { publicKeyOpenssh: "ssh-ed25519 AAAA test", privateKeyOpenssh: "PRIVATE" });
        }
        if (args.type === "command:remote:Command") Object.assign(outputs, { stdout: "", stderr: "" });
        return { id: `${args.name}-id`, state: outputs };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    project,
    stack,
    false,
  );
  jest.isolateModules(() => {
    require(path.join(root, "index.ts"));
  });
  // Let every registration (they happen as Outputs resolve) reach the mock.
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
  return registered;
}

const byName = (rs: Registered[]) => new Map(rs.map((r) => [r.name, r]));

describe("the program under mocks", () => {
  it("registers the lab and a one-member etcd for the default stack", async () => {
    const rs = await runProgram();
    expect(rs.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
      "command:remote:Command etcd-core-01-files",
      "command:remote:Command etcd-core-01-join",
      "command:remote:Command etcd-core-01-restart",
      "pulumi-nodejs:dynamic/rwk:Machine lab-core-01-machine",
      "pulumi-nodejs:dynamic/rwk:Machine lab-core-02-machine",
      "pulumi-nodejs:dynamic/rwk:Machine lab-core-03-machine",
      "pulumi-nodejs:dynamic/rwk:Switch lab-switch",
      "rwk:etcd:Cluster etcd",
      "rwk:etcd:Member etcd-core-01",
      "rwk:host:Host lab-core-01",
      "rwk:host:Host lab-core-02",
      "rwk:host:Host lab-core-03",
      "rwk:host:Lab lab",
      "tls:index/privateKey:PrivateKey lab-ssh-key",
    ]);
    const join = byName(rs).get("etcd-core-01-join")!;
    expect(join.inputs["create"]).toBe(
      "/usr/local/sbin/rwk-etcd join --name core-01 --peer-url http://172.17.8.101:2380 " +
        "--endpoints 'http://172.17.8.102:2379,http://172.17.8.103:2379' --learner --bootstrap",
    );
    const machine = byName(rs).get("lab-core-02-machine")!;
    expect(machine.inputs).toMatchObject({
      lab: "rwk-dev",
      host: "core-02",
      address: "172.17.8.102",
      state: "running",
    });
  });

  it("grows 1 → 3 by adding two members and touching nothing of the first", async () => {
    const one = byName(await runProgram({ etcdMembers: ["core-01"] }));
    const three = byName(await runProgram({ etcdMembers: ["core-01", "core-02", "core-03"] }));
    for (const suffix of ["files", "join", "restart"]) {
      expect(three.get(`etcd-core-01-${suffix}`)!.inputs).toEqual(one.get(`etcd-core-01-${suffix}`)!.inputs);
    }
    const added = [...three.keys()].filter((n) => !one.has(n)).sort();
    expect(added).toEqual([
      "etcd-core-02",
      "etcd-core-02-files",
      "etcd-core-02-join",
      "etcd-core-02-restart",
      "etcd-core-03",
      "etcd-core-03-files",
      "etcd-core-03-join",
      "etcd-core-03-restart",
    ]);
    expect(three.get("etcd-core-03-join")!.inputs["create"]).not.toContain("--bootstrap");
  });

  it("keeps a destroyed host in the program, so a fresh one is visibly a new machine", async () => {
    const rs = byName(await runProgram({ hostStates: { "core-01": "destroyed" } }));
    expect(rs.get("lab-core-01-machine")!.inputs["state"]).toBe("destroyed");
  });

  it("gives two stacks different labs", async () => {
    const other = byName(await runProgram({}, "member-failure"));
    expect(other.get("lab-switch")!.inputs["lab"]).toBe("rwk-member-failure");
  });

  it("refuses bad config before registering anything", async () => {
    await expect(runProgram({ driver: "docker" })).rejects.toThrow(
      /driver: "docker" is not one of machines, vagrant, ssh/,
    );
  });
});
