import * as fs from "fs";
import * as path from "path";

/** What systemctl prints when systemd re-executes (or reloads) under a call. */
export const cutOff = "Message recipient disconnected from message bus without replying";

/**
 * A systemctl, as a bash function, for a helper under test: it answers from `replies`, one per call (the
 * last repeats): `cut` is a call cut off by systemd, `ok` succeeds silently, anything else is what it
 * prints. Its state lives in `dir` (calls come from command substitutions, subshells); `callsOf(dir)` reads
 * every call it got.
 */
export function systemctlStub(dir: string, replies: string[]): string {
  fs.writeFileSync(path.join(dir, "replies"), replies.join("\n") + "\n");
  const d = JSON.stringify(dir);
  return `
systemctl() {
  local n reply
  n=1
  [[ ! -e ${d}/calls ]] || n=$(($(wc -l <${d}/calls) + 1))
  printf '%s\\n' "$*" >>${d}/calls
  reply=$(sed -n "\${n}p" ${d}/replies); [[ -n $reply ]] || reply=$(tail -n 1 ${d}/replies)
  if [[ $reply == cut ]]; then echo "Failed: ${cutOff}" >&2; return 1; fi
  [[ $reply == ok ]] || echo "$reply"
}`;
}

export function callsOf(dir: string): string[] {
  const file = path.join(dir, "calls");
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trimEnd().split("\n") : [];
}
