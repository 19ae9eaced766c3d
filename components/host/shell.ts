// The one way a value reaches a shell on a host: every word of a command line is quoted here, so a
// value (a path, a name, an id read from a backup's manifest) is always one word and never code.

/** Quotes one word for a POSIX shell: single quotes, with any single quote inside closed and escaped. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line of these words, each quoted: `shellCommand("rm", "-rf", dir)`. */
export function shellCommand(...words: string[]): string {
  return words.map(shellQuote).join(" ");
}

/**
 * `script`, run only on the host whose machine-id is `identity`. Pulumi deletes a replaced resource after
 * its replacement exists, so on a rebuilt host (a new machine-id, the same address) the old resource's
 * undo would take down what the new one just set up: there it does nothing.
 */
export function onlyOnHost(identity: string, script: string): string {
  return [
    `if [ "$(cat /etc/machine-id)" != ${shellQuote(identity)} ]; then`,
    `  echo "this host was rebuilt since: nothing of the old one to undo" >&2`,
    "  exit 0",
    "fi",
    script,
  ].join("\n");
}

/**
 * A script as pushed to a host: its facts (paths, ports, names defined once in a facts.ts) as read-only
 * shell variables after the shebang line, then the functions of any shared libraries (rwk-unit.sh), then
 * the rest of its body. `source` names where the facts came from.
 */
export function withFacts(
  body: string,
  facts: Record<string, string | number>,
  source: string,
  libraries: string[] = [],
): string {
  const lines = Object.entries(facts).map(([k, v]) => `readonly ${k}=${shellQuote(String(v))}`);
  const [shebang, ...rest] = body.split("\n");
  // A library's own first line only tells shellcheck which shell it is for.
  const libs = libraries.map((l) => l.replace(/^# shellcheck shell=bash\n/, "").trimEnd());
  return [
    shebang,
    `# Facts rendered from ${source} by real-world-kubernetes.`,
    ...lines,
    ...libs,
    ...rest,
  ].join("\n");
}

/** The shared functions that start a service of ours (components/host/rwk-unit.sh). */
export const unitLibraryFile = `${__dirname}/rwk-unit.sh`;
