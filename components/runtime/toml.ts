// A TOML serializer for what the program writes in TOML (containerd's config): no TOML library is among
// the project's packages, and the part of TOML that config needs is small. Pure, so tests pin its output.

/** A TOML value as written here: strings, integers, booleans, string arrays, and tables. */
export type TomlValue = string | number | boolean | string[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

const isTable = (v: TomlValue): v is TomlTable => typeof v === "object" && !Array.isArray(v);

/** A bare key where TOML allows one, else a quoted one (TOML's basic strings take JSON's escapes). */
function key(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k);
}

function scalar(v: Exclude<TomlValue, TomlTable>, at: string): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "boolean") return String(v);
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v))
      throw new Error(`TOML ${at}: ${v} is not an integer this serializer writes`);
    return String(v);
  }
  return `[${v.map((s) => JSON.stringify(s)).join(", ")}]`;
}

/**
 * Renders a table as TOML: in each table its plain keys first, then its sub-tables as `[a.b."c.d"]`
 * sections, each indented two spaces per level as `containerd config default` prints them. Key order is
 * the object's; a table with no plain keys of its own still gets its section header.
 */
export function renderToml(table: TomlTable): string {
  const lines: string[] = [];
  const walk = (t: TomlTable, path: string[]) => {
    const depth = path.length;
    if (depth > 0) lines.push(`${"  ".repeat(depth - 1)}[${path.map(key).join(".")}]`);
    for (const [k, v] of Object.entries(t)) {
      if (!isTable(v)) lines.push(`${"  ".repeat(depth)}${key(k)} = ${scalar(v, [...path, k].join("."))}`);
    }
    for (const [k, v] of Object.entries(t)) {
      if (isTable(v)) {
        if (path.length === 0) lines.push("");
        walk(v, [...path, k]);
      }
    }
  };
  walk(table, []);
  return `${lines.join("\n")}\n`;
}
