// The ssh driver ("bring your own machines") through the real engine. Your own machine here is a host the
// machines driver made outside Pulumi, reached through its 127.0.0.1 forward with a key of its own.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { driverScript, removeLab, run } from "../../workstation/lab";
import { changed } from "../../workstation/stack";

const root = path.resolve(__dirname, "..", "..");
const project = "real-world-kubernetes";
const stackName = "ssh-it";
const ownLab = "rwk-own-hosts";
const stackFile = path.join(root, `Pulumi.${stackName}.yaml`);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-ssh-it-"));

async function driver(...args: string[]): Promise<string> {
  const r = await run([driverScript("machines"), ...args], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`machines.sh ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

afterAll(async () => {
  await removeLab("machines", ownLab);
  fs.rmSync(stackFile, { force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

describe("the ssh driver through the real engine", () => {
  it("reaches your own host with your own key, reads its identity, and leaves it running on destroy", async () => {
    await removeLab("machines", ownLab);
    const key = path.join(work, "id");
    await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key]);
    await driver("switch-up", ownLab, "172.17.8.0/24");
    await driver("create", ownLab, "core-01", "172.17.8.101", `${key}.pub`);
    const info = JSON.parse(await driver("info", ownLab, "core-01")) as {
      sshPort: number;
      machineId: string;
    };

    fs.writeFileSync(
      stackFile,
      yaml.dump({
        config: {
          [`${project}:driver`]: "ssh",
          [`${project}:hosts`]: [{ name: "core-01", address: "127.0.0.1", sshPort: info.sshPort }],
          [`${project}:etcdMembers`]: [],
          [`${project}:allowDataLoss`]: stackName,
        },
      }),
    );
    fs.mkdirSync(path.join(work, "state"));
    const stack = await LocalWorkspace.createOrSelectStack(
      { stackName, workDir: root },
      { envVars: { PULUMI_BACKEND_URL: `file://${path.join(work, "state")}` } },
    );
    try {
      await stack.setConfig("sshPrivateKey", { value: fs.readFileSync(key, "utf8"), secret: true });
      const up = await stack.up({ color: "never" });
      expect(up.summary.result).toBe("succeeded");
      const outputs = await stack.outputs();
      expect(outputs["hosts"]?.value).toEqual({
        "core-01": {
          address: "127.0.0.1",
          state: "running",
          ssh: { host: "127.0.0.1", port: info.sshPort, user: "root" },
        },
      });
      const deployment = (await stack.exportStack()).deployment as {
        resources: { type: string; urn: string; outputs?: { stdout?: string } }[];
      };
      const identity = deployment.resources.find((r) => r.urn.endsWith("lab-core-01-identity"));
      expect(identity?.outputs?.stdout?.trim()).toBe(info.machineId);
      expect(changed((await stack.preview({ color: "never" })).changeSummary)).toEqual({});
      await stack.destroy({ color: "never" });
      // Your machines are yours: destroying the stack does not touch them.
      expect(await driver("status", ownLab, "core-01")).toBe("running");
    } finally {
      await stack.workspace.removeStack(stackName, { force: true });
    }
  });
});
