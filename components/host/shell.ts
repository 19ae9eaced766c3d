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
