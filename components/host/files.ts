// Files pushed to a host, the one way: every component gathers what it puts on a host in one list of
// HostFile, and this renders the script that writes them. Pure functions, so tests can snapshot them.
import { createHash } from "crypto";
import { shellCommand, shellQuote } from "./shell";

/**
 * What a change of the file takes: the program that reads it restarted (it reads it only at start), or
 * nothing from us because the program reloads it by itself (etcd re-reads its certificates on every
 * handshake; kubelet watches its manifests), or nothing at all (a helper script: nothing runs it
 * continuously).
 */
export type OnChange = "restart" | "reload" | "none";

export interface HostFile {
  path: string;
  mode: "0600" | "0640" | "0644" | "0755";
  owner: string;
  content: string;
  onChange: OnChange;
  /** A command the host runs after this file was written or removed (e.g. rebuilding a trust store). */
  afterChange?: string;
}

const byPath = (files: HostFile[]) => [...files].sort((a, b) => a.path.localeCompare(b.path));

/**
 * A bash script that writes the files atomically with their modes and owners, and only those whose
 * content, mode or owner differ: an unchanged file keeps its inode and time, so nothing that watches it
 * sees a change. It runs `before` first. When a file marked `restart` changes, it creates `restartMarker`:
 * the program that reads the file is due a restart (whoever restarts it removes the marker). It travels on
 * stdin, so secret content never appears in a command line, a process list or the engine's log.
 */
export function renderInstallScript(
  files: HostFile[],
  opts: { restartMarker?: string; before?: string } = {},
): string {
  const { restartMarker } = opts;
  // `before` prepares what the files need (their owner's account, a directory): idempotent, every time.
  const lines = ["set -eu", "umask 077", ...(opts.before ? [opts.before] : [])];
  for (const f of byPath(files)) {
    const dir = f.path.slice(0, f.path.lastIndexOf("/")) || "/";
    // A hidden name beside the file: a directory's reader that skips dot files (the kubelet's manifests)
    // never sees it half-written.
    const tmp = `${dir === "/" ? "" : dir}/.${f.path.slice(f.path.lastIndexOf("/") + 1)}.rwk-new`;
    const data = Buffer.from(f.content, "utf8")
      .toString("base64")
      .replace(/(.{76})/g, "$1\n");
    const same = `cmp -s ${shellQuote(tmp)} ${shellQuote(f.path)} && [ "$(stat -c '%a %U:%G' ${shellQuote(f.path)})" = ${shellQuote(`${f.mode.replace(/^0/, "")} ${f.owner}`)} ]`;
    lines.push(
      // Directories stay traversable (a service must reach its keys); only the files are private.
      `(umask 022 && ${shellCommand("mkdir", "-p", dir)})`,
      `${shellCommand("base64", "-d")} > ${shellQuote(tmp)} <<'RWK_EOF'`,
      data,
      "RWK_EOF",
      `if ${same}; then ${shellCommand("rm", "-f", tmp)}; else`,
      `  ${[shellCommand("chown", f.owner, tmp), shellCommand("chmod", f.mode, tmp), shellCommand("mv", "-f", tmp, f.path)].join(" && ")}`,
      ...(f.afterChange ? [`  ${f.afterChange}`] : []),
      ...(f.onChange === "restart" && restartMarker
        ? [
            `  (umask 022 && ${shellCommand("mkdir", "-p", restartMarker.slice(0, restartMarker.lastIndexOf("/")))} && ${shellCommand("touch", restartMarker)})`,
          ]
        : []),
      "fi",
    );
  }
  lines.push("");
  return lines.join("\n");
}

/** The command that removes pushed files again, and runs what must follow their removal. */
export function renderRemoveScript(files: Pick<HostFile, "path" | "afterChange">[]): string {
  const after = [...new Set(files.flatMap((f) => (f.afterChange ? [f.afterChange] : [])))];
  return [shellCommand("rm", "-f", ...byPath(files as HostFile[]).map((f) => f.path)), ...after].join(" && ");
}

/** Content hash of files: what a trigger re-runs on. */
export function hashFiles(files: HostFile[]): string {
  const h = createHash("sha256");
  for (const f of byPath(files)) h.update(`${f.path}\0${f.mode}\0${f.owner}\0${f.content}\0`);
  return h.digest("hex").slice(0, 16);
}

/** The hash of the files whose change needs a restart of the program that reads them. */
export function restartHash(files: HostFile[]): string {
  return hashFiles(files.filter((f) => f.onChange === "restart"));
}
