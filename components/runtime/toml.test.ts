import { execFileSync } from "child_process";
import { renderToml } from "./toml";
import type { TomlTable } from "./toml";

/** What Python's TOML parser (tomllib, Python 3.11) reads from the text, as JSON. */
function parsed(text: string): unknown {
  const script = "import json, sys, tomllib; print(json.dumps(tomllib.loads(sys.stdin.read())))";
  return JSON.parse(execFileSync("python3", ["-c", script], { input: text, encoding: "utf8" }));
}

const sample: TomlTable = {
  version: 2,
  plugins: {
    "io.containerd.grpc.v1.cri": {
      enabled: true,
      image: "registry.k8s.io/pause:3.10.1",
      dirs: ["/a", "/b"],
      runtimes: { runc: { options: { SystemdCgroup: false } } },
      empty: {},
    },
  },
  odd: { 'a "quoted" key\\': 'a "quoted"\nvalue\t\\' },
};

describe("the TOML serializer", () => {
  it("writes plain keys before sub-tables, dotted section headers, indented as containerd prints them", () => {
    expect(renderToml(sample)).toMatchSnapshot();
  });

  it("writes what a TOML parser reads back as the same data", () => {
    expect(parsed(renderToml(sample))).toEqual(sample);
  });

  it("refuses numbers it would not write as TOML integers", () => {
    expect(() => renderToml({ a: { b: 1.5 } })).toThrow(
      "TOML a.b: 1.5 is not an integer this serializer writes",
    );
  });
});
