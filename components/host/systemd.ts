// systemd's unit-file format, written once: sections of key=value lines, in order, a key repeated where
// systemd reads it more than once (ExecStart= clearing the list in a drop-in). Pure, for snapshot tests.
import { shellCommand } from "./shell";

/** One section's settings, in order; a value that is a list repeats its key. */
export type UnitSection = [key: string, value: string | string[]][];

const managed = "# Managed by real-world-kubernetes (Pulumi); changes are overwritten.";

/** A unit file or drop-in: the sections in the order given. */
export function renderUnitFile(sections: Record<string, UnitSection>): string {
  const out = [managed];
  for (const [name, settings] of Object.entries(sections)) {
    out.push(`[${name}]`);
    for (const [key, value] of settings) {
      for (const v of Array.isArray(value) ? value : [value]) {
        if (/[\n\r]/.test(v)) throw new Error(`unit setting ${key}: a value must be one line`);
        out.push(`${key}=${v}`);
      }
    }
    out.push("");
  }
  return out.join("\n");
}

/**
 * `systemctl <args>` as a host command, asked again for up to 30 s until it succeeds: a lab host's systemd
 * re-executes itself once containerd's prerequisites ran (lab/images/image.sh), which cuts off a call at
 * that moment ("Message recipient disconnected from message bus without replying"); the helpers' own
 * calls are rwk-unit.sh's unit_ctl.
 */
export function systemctlCommand(...args: string[]): string {
  return shellCommand(
    "timeout",
    "30",
    "sh",
    "-c",
    'until systemctl "$@" >/dev/null; do sleep 1; done',
    "systemctl",
    ...args,
  );
}
