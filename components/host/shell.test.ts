import { execFileSync } from "child_process";
import * as fs from "fs";
import { onlyOnHost, shellCommand, shellQuote, withFacts } from "./shell";

/** What bash makes of a command line: its words, each ended by a NUL (printf runs in the same shell). */
function words(line: string): string[] {
  const out = execFileSync("bash", ["-c", `printf '%s\\0' ${line}`], { encoding: "utf8" });
  return out.split("\0").slice(0, -1);
}

describe("shellQuote", () => {
  it("leaves plain words alone, so commands stay readable", () => {
    expect(shellCommand("/usr/local/sbin/rwk-etcd", "join", "--name", "core-01")).toBe(
      "/usr/local/sbin/rwk-etcd join --name core-01",
    );
    expect(shellQuote("https://172.17.8.102:2379,https://172.17.8.103:2379")).toBe(
      "https://172.17.8.102:2379,https://172.17.8.103:2379",
    );
  });

  it.each([
    "b1;touch x;#",
    "b1$(touch y)",
    "`id`",
    "a b",
    "it's",
    "'",
    "",
    "*",
    "~root",
    "x\ny",
    "$HOME",
    "a\\b",
    "--from=-e",
  ])("keeps %j one word, with no expansion", (value) => {
    expect(words(shellCommand("x", value, "y"))).toEqual(["x", value, "y"]);
  });
});

describe("withFacts", () => {
  it("puts each fact after the shebang as a read-only variable a shell reads back unchanged", () => {
    const facts = { plain: "/var/lib/x", odd: "it's $HOME", port: 2379 };
    const script = withFacts('#!/bin/bash\nprintf "%s|%s|%s" "$plain" "$odd" "$port"', facts, "facts.ts");
    const lines = script.split("\n");
    expect(lines[0]).toBe("#!/bin/bash");
    expect(lines[1]).toBe("# Facts rendered from facts.ts by real-world-kubernetes.");
    expect(execFileSync("bash", ["-c", script], { encoding: "utf8" })).toBe("/var/lib/x|it's $HOME|2379");
  });
});

describe("onlyOnHost", () => {
  // This machine's own id stands for the host the command was created on.
  const here = fs.readFileSync("/etc/machine-id", "utf8").trim();
  const run = (script: string) => execFileSync("bash", ["-c", script], { encoding: "utf8", stdio: "pipe" });

  it("runs the script on the host it was made for", () => {
    expect(run(onlyOnHost(here, "echo undone"))).toBe("undone\n");
  });

  it("does nothing, successfully, on a host rebuilt since (another machine-id)", () => {
    expect(run(onlyOnHost("0123456789abcdef0123456789abcdef", "echo undone; exit 3"))).toBe("");
  });

  it("quotes the identity as one word", () => {
    expect(run(onlyOnHost("x'; echo injected; '", "echo undone"))).toBe("");
  });
});
