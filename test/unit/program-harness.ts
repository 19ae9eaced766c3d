// The whole program under Pulumi mocks, for the unit tests that look at what it registers: one run per
// call, with a fresh module registry, config as the engine passes it, and every registration recorded.
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import { imageListPath, imageRefs } from "../../components/runtime/images";
import type { ImageName } from "../../components/runtime/images";

export interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** The names of the resources it depends on (dependsOn, a component's children, its inputs' sources). */
  dependencies?: string[];
}

export interface Run {
  resources: Registered[];
  /** The program's exports: the stack outputs. */
  outputs: Record<string, unknown>;
}

export const project = "real-world-kubernetes";

/** What the harness reads of a registration request. */
interface RegisterRequest {
  getName(): string;
  getDependenciesList(): string[];
}
const root = path.join(__dirname, "..", "..");

/**
 * Config as the engine would pass it, without Pulumi.yaml's defaults: only the scenario's keys, so the
 * program runs on the defaults validateConfig applies itself.
 */
function stackConfig(overrides: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined)
      out[`${project}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return out;
}

/** What the mocked providers return: the inputs, and the outputs the program reads of each type. */
function mockOutputs(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
  lastOutputs: Record<string, unknown>,
): Record<string, unknown> {
  const outputs: Record<string, unknown> = { ...inputs };
  // The stack's own outputs of its last update (index.ts reads what it deployed).
  if (type === "pulumi:pulumi:StackReference") Object.assign(outputs, { outputs: lastOutputs });
  if (type === "pulumi-nodejs:dynamic/rwk:Machine")
    Object.assign(outputs, { sshPort: 2222, machineId: `id-${name}` });
  if (type === "tls:index/privateKey:PrivateKey") {
    Object.assign(outputs, {
      publicKeyOpenssh: "ssh-ed25519 AAAA test",
      privateKeyOpenssh: "PRIVATE",
      privateKeyPem: `KEY ${name}`,
      publicKeyPem: `PUBLIC ${name}`,
    });
  }
  if (type.startsWith("tls:index/") && type.endsWith("Cert")) outputs["certPem"] = `CERT ${name}`;
  if (type === "tls:index/certRequest:CertRequest") outputs["certRequestPem"] = `CSR ${name}`;
  if (type === "command:remote:Command") Object.assign(outputs, { stdout: "", stderr: "" });
  return outputs;
}

/**
 * Runs the program (index.ts) on these config keys; `registered` receives every registration, also of a
 * run that throws; `lastOutputs` are the stack's outputs as its last update left them; `preview` runs it as
 * `pulumi preview` does (an update's run otherwise).
 */
export async function loadProgram(
  overrides: Record<string, unknown> = {},
  stack = "dev",
  registered: Registered[] = [],
  lastOutputs: Record<string, unknown> = {},
  preview = false,
): Promise<Run> {
  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      const inputs = args.inputs as Record<string, unknown>;
      registered.push({ type: args.type, name: args.name, inputs });
      return { id: `${args.name}-id`, state: mockOutputs(args.type, args.name, inputs, lastOutputs) };
    },
    call: (args) => args.inputs as Record<string, unknown>,
  };
  // A fresh module registry per run: the program and the SDK it registers through, mocked and
  // configured before the program is loaded.
  let sdk: typeof pulumi | undefined;
  let ready: Promise<void> = Promise.resolve();
  let exported: unknown;
  const dependencies = new Map<string, string[]>();
  jest.isolateModules(() => {
    sdk = require("@pulumi/pulumi") as typeof pulumi;
    sdk.runtime.setAllConfig(stackConfig(overrides));
    ready = sdk.runtime.setMocks(mocks, project, stack, preview, "organization");
    // The mocks see no dependencies: each registration's are read from the request the monitor gets.
    const monitor = sdk.runtime.getMonitor() as unknown as {
      registerResource(req: RegisterRequest, callback: unknown): void;
    };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
      dependencies.set(
        req.getName(),
        req.getDependenciesList().map((urn) => urn.split("::").pop()!),
      );
      register(req, callback);
    };
    exported = require(path.join(root, "index.ts"));
  });
  await ready;
  // The program's exports: a promise of the outputs (it reads the stack's last outputs first).
  const outputs = (await exported) as Record<string, unknown>;
  // Registrations happen as Outputs resolve: the runtime's own drain of its RPC queue says when they
  // all reached the mock (this SDK instance is this run's alone).
  await sdk!.runtime.disconnect();
  for (const r of registered) {
    const deps = dependencies.get(r.name);
    if (deps) r.dependencies = deps;
  }
  return { resources: registered, outputs };
}

/** A stand-in image's digest, by its place in the list. */
export const standInDigest = (i: number): string => `sha256:${String(i).repeat(64)}`;

/**
 * Stand-ins for what the workstation builds, under the cache root `cache` (RWK_CACHE): the default
 * releases' directories, and for Kubernetes 1.34.4 an image list naming these images, each with an
 * archive of its own and standInDigest(i).
 */
export function buildStandIns(cache: string, images: ImageName[]): void {
  for (const dir of ["etcd-v3.6.16", "kubernetes-v1.34.4", "crictl-v1.34.0", "cni-plugins-v1.10.0"])
    fs.mkdirSync(path.join(cache, "kubernetes", dir), { recursive: true });
  const archives = path.join(cache, "oci-images");
  fs.mkdirSync(archives, { recursive: true });
  const refs = imageRefs("1.34.4");
  const lines = images.map((name, i) => {
    fs.writeFileSync(path.join(archives, `${name}-x.tar`), name);
    return `${refs[name]} ${path.join(archives, `${name}-x.tar`)} ${standInDigest(i)}`;
  });
  fs.writeFileSync(imageListPath("1.34.4"), `${lines.join("\n")}\n`);
}
