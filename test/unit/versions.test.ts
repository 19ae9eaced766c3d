// One place pins every external version: the npm SDKs must ask for exactly the plugins the toolchain builds.
import * as fs from "fs";
import * as path from "path";

const root = path.join(__dirname, "..", "..");
const versions = JSON.parse(fs.readFileSync(path.join(root, "versions.json"), "utf8")) as {
  pulumi: string;
  plugins: Record<string, { version: string }>;
};
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
};

describe("versions.json and package.json", () => {
  it("pins the Pulumi SDK to the CLI's version", () => {
    expect(pkg.dependencies["@pulumi/pulumi"]).toBe(versions.pulumi);
  });

  it.each(Object.entries(versions.plugins))("pins @pulumi/%s to the plugin version built", (name, plugin) => {
    expect(pkg.dependencies[`@pulumi/${name}`]).toBe(plugin.version);
    const installed = JSON.parse(
      fs.readFileSync(path.join(root, "node_modules", "@pulumi", name, "package.json"), "utf8"),
    ) as { pulumi?: { version?: string } };
    expect(installed.pulumi?.version).toBe(plugin.version);
  });

  it("gives the policy pack (policy/) the program's own SDK, with no copy of its own", () => {
    expect(
      fs.existsSync(path.join(root, "node_modules", "@pulumi", "policy", "node_modules", "@pulumi")),
    ).toBe(false);
  });

  it("uses exact versions only", () => {
    for (const [name, v] of Object.entries(pkg.dependencies))
      expect([name, v]).toEqual([name, expect.stringMatching(/^\d+\.\d+\.\d+$/) as string]);
  });
});
