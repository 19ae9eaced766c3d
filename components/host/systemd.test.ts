import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { systemctlCommand } from "./systemd";

describe("systemctlCommand", () => {
  it("asks systemctl again while a call is cut off, and gives up after its bound", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rwk-systemctl-"));
    try {
      // A systemctl on PATH that is cut off twice, then succeeds; it records its arguments.
      const stub = path.join(dir, "systemctl");
      fs.writeFileSync(
        stub,
        `#!/bin/sh\necho "$*" >>"${dir}/calls"\n[ "$(wc -l <"${dir}/calls")" -gt 2 ] && exit 0\necho cut off >&2\nexit 1\n`,
        { mode: 0o755 },
      );
      const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
      const cmd = systemctlCommand("enable", "--quiet", "rwk pod routes.service");
      const r = spawnSync("bash", ["-c", cmd], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      expect(r.status).toBe(0);
      expect(fs.readFileSync(path.join(dir, "calls"), "utf8")).toBe(
        "enable --quiet rwk pod routes.service\n".repeat(3),
      );

      fs.writeFileSync(stub, "#!/bin/sh\nexit 1\n");
      const bounded = systemctlCommand("daemon-reload").replace(/^timeout 30 /, "timeout 2 ");
      expect(spawnSync("bash", ["-c", bounded], { env, stdio: "ignore" }).status).toBe(124);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
