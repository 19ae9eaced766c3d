// The offline toolchain drives the real engine: up, a preview that must change nothing, destroy, on a
// throwaway stack with a @pulumi/random and a @pulumi/tls resource.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";

const workDir = path.join(__dirname, "smoke");
const backend = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-smoke-state-"));
const envVars = {
  PULUMI_BACKEND_URL: `file://${backend}`,
  PULUMI_CONFIG_PASSPHRASE: "smoke-test-passphrase",
};

afterAll(() => fs.rmSync(backend, { recursive: true, force: true }));

describe("the real Pulumi engine, offline", () => {
  it("has the four resource plugins registered at the pinned versions", () => {
    const versions = JSON.parse(
      fs.readFileSync(path.join(__dirname, "..", "..", "versions.json"), "utf8"),
    ) as {
      plugins: Record<string, { version: string }>;
    };
    const listed = JSON.parse(execFileSync("pulumi", ["plugin", "ls", "--json"], { encoding: "utf8" })) as {
      name: string;
      kind: string;
      version: string;
    }[];
    for (const [name, { version }] of Object.entries(versions.plugins)) {
      expect(listed).toContainEqual(expect.objectContaining({ name, kind: "resource", version }));
    }
  });

  it("runs up, an unchanged preview and destroy; the certificate is real X.509 and the key never plain in state", async () => {
    const stack = await LocalWorkspace.createOrSelectStack(
      { stackName: `smoke-${process.pid}`, workDir },
      { envVars },
    );
    try {
      const up = await stack.up({ color: "never" });
      expect(up.summary.result).toBe("succeeded");
      expect(up.summary.resourceChanges).toEqual({ create: 4 });

      const preview = await stack.preview({ expectNoChanges: true, color: "never" });
      expect(preview.changeSummary).toEqual({ same: 4 });

      const certPem = String((await stack.outputs())["certPem"]?.value);
      const text = execFileSync("openssl", ["x509", "-noout", "-subject", "-dates", "-ext", "keyUsage"], {
        input: certPem,
      }).toString();
      expect(text).toMatch(/subject=CN ?= ?rwk-smoke-[a-z0-9]{8}/);
      expect(text).toMatch(/notAfter=/);

      // The state as it sits on disk (an export would decrypt the secrets): keys only as ciphertext.
      const stateFile = path.join(backend, ".pulumi", "stacks", "rwk-engine-smoke", `${stack.name}.json`);
      const state = fs.readFileSync(stateFile, "utf8");
      expect(state).toContain("ciphertext");
      expect(/BEGIN (EC |RSA |OPENSSH |)PRIVATE KEY/.test(state)).toBe(false);
      const grep = spawnSync("grep", ["-rlE", "BEGIN (EC |RSA |OPENSSH |)PRIVATE KEY", backend], {
        encoding: "utf8",
      });
      expect({ status: grep.status, files: grep.stdout.trim() }).toEqual({ status: 1, files: "" });
    } finally {
      await stack.destroy({ color: "never" });
      await stack.workspace.removeStack(stack.name);
    }
  });

  it("refuses a config value of the wrong type at preview, naming the key", async () => {
    const stack = await LocalWorkspace.createOrSelectStack(
      { stackName: `smoke-bad-${process.pid}`, workDir },
      { envVars },
    );
    try {
      await stack.setConfig("validityHours", { value: "twelve" });
      await expect(stack.preview({ color: "never" })).rejects.toThrow(
        /configuration key 'validityHours' must be of type 'integer'/,
      );
    } finally {
      await stack.workspace.removeStack(stack.name, { force: true });
    }
  });
});
