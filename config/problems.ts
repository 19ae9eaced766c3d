// One collector for every part of the configuration, so a stack with five mistakes hears of all five in
// one run, each named by the key the user would edit.
import * as pulumi from "@pulumi/pulumi";

/**
 * Every problem found in the configuration, reported at once. A RunError: the engine prints its message
 * alone, as the refusal it is, without "unhandled exception" and a stack trace.
 */
export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: string[]) {
    super(
      `invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** A part's raw values, as the engine hands them over: anything, or nothing when the stack leaves it unset. */
export type RawOf<Defaults> = { -readonly [K in keyof Defaults]?: unknown };

export class Problems {
  private readonly found: string[] = [];

  constructor(private readonly project: string) {}

  /** A key as the user writes it (`project:etcdMembers[1]`); an arrow, so parts can pass it along. */
  readonly key = (path: string): string => `${this.project}:${path}`;

  add(path: string, message: string): void {
    this.found.push(`${this.key(path)}: ${message}`);
  }

  /** Problems worded elsewhere, each naming its key already (dataLossProblems). */
  addWorded(problems: readonly string[]): void {
    this.found.push(...problems);
  }

  /** Every problem found so far, each naming its key. */
  list(): string[] {
    return [...this.found];
  }

  get count(): number {
    return this.found.length;
  }

  throwIfAny(): void {
    if (this.found.length > 0) throw new ConfigError(this.found);
  }

  oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[]): T | undefined {
    if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
    this.add(path, `${JSON.stringify(value)} is not one of ${allowed.join(", ")}`);
    return undefined;
  }

  /** An integer in [min, max], or a problem naming the range. */
  intIn(path: string, value: unknown, min: number, max: number, what = "an integer"): number | undefined {
    if (Number.isInteger(value) && (value as number) >= min && (value as number) <= max)
      return value as number;
    this.add(path, `${JSON.stringify(value)} must be ${what} from ${min} to ${max}`);
    return undefined;
  }

  /** An object with only the allowed keys: every other shape is a problem, named with what is allowed. */
  objectOf(path: string, value: unknown, allowed: readonly string[]): value is Record<string, unknown> {
    if (!isRecord(value)) {
      this.add(path, `must be an object { ${allowed.join(", ")} }`);
      return false;
    }
    const unknownKeys = Object.keys(value).filter((k) => !allowed.includes(k));
    if (unknownKeys.length > 0) {
      this.add(path, `unknown key(s) ${unknownKeys.join(", ")}; allowed: ${allowed.join(", ")}`);
    }
    return true;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
