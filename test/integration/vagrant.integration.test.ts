// The vagrant driver through the real engine: a stack whose one host is a Vagrant + vagrant-libvirt VM
// (lab/drivers/vagrant.sh), brought up with `pulumi up` and reached over SSH exactly as the stack's
// outputs say, then destroyed. Whatever happens, nothing of the lab may be left: if the engine's destroy
// fails, the driver is called directly.
//   npx jest --selectProjects integration test/integration/vagrant
// (as root, with `eval "$(./rwk env)"` after `./rwk setup`)
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import type { Stack } from "@pulumi/pulumi/automation";
import { labName } from "../../config";
import { driverScript, labLeftovers, removeLab, run } from "../../workstation/lab";

const root = path.resolve(__dirname, "..", "..");
const project = "real-world-kubernetes";
const stackName = "vagrant-it";
const lab = labName(stackName);
const stackFile = path.join(root, `Pulumi.${stackName}.yaml`);
const host = { name: "core-01", address: "172.17.8.101" };

// A backend of the test's own: a run that dies leaves no stack behind in the project's state.
const work = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-vagrant-it-"));
const envVars: Record<string, string> = {
  PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`,
  PULUMI_CONFIG_PASSPHRASE: process.env["PULUMI_CONFIG_PASSPHRASE"] ?? "rwk-lab-passphrase",
};
fs.mkdirSync(path.join(work, "state"));

/** Runs a command on the host as the stack's outputs describe it, with the stack's key. */
function sshTo(
  endpoint: { host: string; port: number; user: string },
  keyFile: string,
  command: string,
): string {
  const r = spawnSync(
    "ssh",
    [
      ...["-i", keyFile, "-p", String(endpoint.port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"],
      ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"],
      `${endpoint.user}@${endpoint.host}`,
      command,
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  if (r.status !== 0) throw new Error(`ssh ${command} failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe("the vagrant driver through the real engine", () => {
  it("brings up a Vagrant VM that answers SSH as the stack's outputs say, and destroys it without a trace", async () => {
    const log: string[] = [];
    const onOutput = (out: string) => log.push(out);
    const timings: Record<string, number> = {};
    const timed = async <T>(label: string, f: () => Promise<T>): Promise<T> => {
      const t = Date.now();
      try {
        return await f();
      } finally {
        timings[label] = (Date.now() - t) / 1000;
      }
    };

    fs.writeFileSync(
      stackFile,
      yaml.dump({
        config: {
          [`${project}:driver`]: "vagrant",
          [`${project}:hosts`]: [host],
          [`${project}:etcdMembers`]: [],
          [`${project}:allowDataLoss`]: stackName,
        },
      }),
    );
    let stack: Stack | undefined;
    let destroyed = false;
    try {
      // An earlier run that died half-way must not leave a lab this run would trip over.
      await removeLab("vagrant", lab);
      stack = await LocalWorkspace.createOrSelectStack({ stackName, workDir: root }, { envVars });

      const up = await timed("pulumi up (switch-up, box, vagrant up)", () =>
        stack!.up({ onOutput, color: "never" }),
      );
      expect(up.summary.result).toBe("succeeded");

      const outputs = await stack.outputs();
      expect(outputs["driver"]?.value).toBe("vagrant");
      const hosts = outputs["hosts"]?.value as Record<
        string,
        { address: string; ssh: { host: string; port: number; user: string } }
      >;
      const endpoint = hosts[host.name]!.ssh;
      expect(endpoint).toEqual({ host: "127.0.0.1", port: expect.any(Number) as number, user: "root" });
      expect(outputs["sshPrivateKey"]?.secret).toBe(true);
      const keyFile = path.join(work, "id_ed25519");
      fs.writeFileSync(keyFile, String(outputs["sshPrivateKey"]?.value), { mode: 0o600 });

      expect(sshTo(endpoint, keyFile, "hostname")).toBe(host.name);
      expect(sshTo(endpoint, keyFile, "ip -4 -o addr show")).toContain(` ${host.address}/24 `);
      expect(sshTo(endpoint, keyFile, "systemctl is-system-running || true")).toMatch(/^(running|degraded)$/);
      expect((await run([driverScript("vagrant"), "status", lab, host.name])).stdout.trim()).toBe("running");

      // Nothing changed since: an unchanged stack plans no update (the machine's state reads as is).
      const preview = await stack.preview({ color: "never" });
      expect(preview.changeSummary["update"] ?? 0).toBe(0);

      await timed("pulumi destroy", () => stack!.destroy({ onOutput, color: "never" }));
      destroyed = true;
      expect(await labLeftovers("vagrant", lab)).toEqual([]);
    } catch (e) {
      // The engine's own output says what the driver did; keep it with the failure.
      throw new Error(`${String(e)}\n--- engine output (tail) ---\n${log.join("").slice(-6000)}`);
    } finally {
      if (stack && !destroyed) {
        try {
          await stack.destroy({ onOutput, color: "never" });
        } catch {
          // The driver-level cleanup below removes the lab regardless.
        }
      }
      await removeLab("vagrant", lab);
      if (stack) await stack.workspace.removeStack(stackName, { force: true });
      fs.rmSync(stackFile, { force: true });
      process.stdout.write(
        `vagrant integration timings:\n${Object.entries(timings)
          .map(([k, v]) => `  ${k}: ${v.toFixed(1)} s`)
          .join("\n")}\n`,
      );
    }
    expect(await labLeftovers("vagrant", lab)).toEqual([]);
  });
});
