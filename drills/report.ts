// Pure functions from what a drill recorded to numbers, a timeline picture (SVG) and a markdown report.
import type { Sample } from "./probes";
import type { WriteRecord } from "./writer";

export interface StepRecord {
  title: string;
  /** What the step changed, as `pulumi config set` commands a user would type. */
  commands: string[];
  /** Epoch ms: the `pulumi up` of the step, then its checks. */
  upStart: number;
  upEnd: number;
  checksEnd: number;
  changes: Record<string, number>;
  /** What `pulumi up` printed (kept out of the markdown; the .log file has all of it). */
  output: string;
  checks: string[];
  /** Extra measured numbers the drill reports for this step (e.g. RPO, RTO). */
  numbers?: Record<string, string>;
}

export interface DrillRecord {
  drill: string;
  title: string;
  stack: string;
  machine: string;
  startedAt: number;
  steps: StepRecord[];
  writes: WriteRecord[];
  /** What the drill's other probes saw (an API server's answers, a Service's): one timeline lane each. */
  lanes?: { name: string; samples: Sample[] }[];
  /** Acknowledged writes that were not found at the end. Must be empty. */
  missing: string[];
  /** Writes the drill expects to be lost (e.g. after a backup it restores), by key. */
  expectedLost: string[];
  outcome: "passed" | "failed";
  error?: string;
}

export interface WriteStats {
  total: number;
  acknowledged: number;
  failed: number;
  /** Longest time without any acknowledged write while the writer ran (write unavailability). */
  longestGapMs: number;
  /** Where that gap started (epoch ms). */
  longestGapAt: number;
}

export function writeStats(writes: WriteRecord[]): WriteStats {
  const sorted = [...writes].sort((a, b) => a.start - b.start);
  const acked = sorted
    .filter((w) => w.ok)
    .map((w) => w.end)
    .sort((a, b) => a - b);
  let longestGapMs = 0;
  let longestGapAt = 0;
  const first = sorted[0]?.start;
  const last = sorted.reduce((m, w) => Math.max(m, w.end), 0);
  if (first !== undefined) {
    // The edges count too: a cluster that never answered after some point is unavailable until the end.
    const marks = [first, ...acked, last];
    for (let i = 1; i < marks.length; i++) {
      const gap = marks[i]! - marks[i - 1]!;
      if (gap > longestGapMs) {
        longestGapMs = gap;
        longestGapAt = marks[i - 1]!;
      }
    }
  }
  return {
    total: writes.length,
    acknowledged: acked.length,
    failed: writes.length - acked.length,
    longestGapMs,
    longestGapAt,
  };
}

/** Time from `from` to the first acknowledged write after the last failed one that started after `from`. */
export function recoveryMs(writes: WriteRecord[], from: number, until: number): number | undefined {
  const window = writes.filter((w) => w.start >= from && w.start <= until).sort((a, b) => a.start - b.start);
  const lastFail = [...window].reverse().find((w) => !w.ok);
  if (!lastFail) return undefined;
  const recovered = window.find((w) => w.ok && w.start > lastFail.start);
  return recovered ? recovered.end - from : undefined;
}

const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * The timeline: one tick per write (green acknowledged, red failed), the steps as bands above it, and a
 * lane below for each other probe.
 */
export function renderTimeline(record: DrillRecord, width = 960): string {
  const lanes = record.lanes ?? [];
  const all: Sample[] = [...record.writes, ...lanes.flatMap((l) => l.samples)];
  const t0 = Math.min(record.startedAt, ...all.map((w) => w.start));
  const t1 = Math.max(...record.steps.map((s) => s.checksEnd), ...all.map((w) => w.end), t0 + 1);
  const extra = lanes.length * 40;
  const left = 10;
  const plot = width - 2 * left;
  const x = (t: number) => left + ((t - t0) / (t1 - t0)) * plot;
  const rows: string[] = [];
  record.steps.forEach((s, i) => {
    const fill = i % 2 === 0 ? "#e8eef7" : "#f4f4f4";
    rows.push(
      `<rect x="${x(s.upStart).toFixed(1)}" y="20" width="${Math.max(1, x(s.checksEnd) - x(s.upStart)).toFixed(1)}" height="${60 + extra}" fill="${fill}"/>`,
      `<text x="${(x(s.upStart) + 2).toFixed(1)}" y="34" font-size="10" fill="#333">${i + 1}. ${escapeXml(s.title)}</text>`,
    );
  });
  // Samples are binned into 2-pixel columns: the picture stays small however long the drill ran.
  const lane = (samples: Sample[], y: number) => {
    const bins = new Map<number, { ok: boolean; failed: boolean }>();
    for (const w of samples) {
      const bin = Math.floor((x(w.start) - left) / 2);
      const b = bins.get(bin) ?? { ok: false, failed: false };
      if (w.ok) b.ok = true;
      else b.failed = true;
      bins.set(bin, b);
    }
    for (const [bin, b] of [...bins].sort((p, q) => p[0] - q[0])) {
      const px = String(left + bin * 2);
      if (b.ok) rows.push(`<rect x="${px}" y="${y}" width="2" height="14" fill="#2e7d32"/>`);
      if (b.failed) rows.push(`<rect x="${px}" y="${y + 18}" width="2" height="14" fill="#c62828"/>`);
    }
  };
  lane(record.writes, 44);
  lanes.forEach((l, i) => {
    const y = 84 + i * 40;
    rows.push(`<text x="${left}" y="${y}" font-size="9" fill="#333">${escapeXml(l.name)}</text>`);
    lane(l.samples, y + 2);
  });
  const seconds = Math.ceil((t1 - t0) / 1000);
  const step = seconds > 300 ? 60 : seconds > 60 ? 10 : 5;
  for (let s = 0; s <= seconds; s += step) {
    const px = x(t0 + s * 1000).toFixed(1);
    rows.push(`<text x="${px}" y="${96 + extra}" font-size="9" fill="#666">${s}s</text>`);
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${104 + extra}" font-family="sans-serif">`,
    `<title>${escapeXml(record.title)}: write availability</title>`,
    `<text x="${left}" y="12" font-size="11">writes: green acknowledged (upper row), red failed (lower row)</text>`,
    ...rows,
    "</svg>",
    "",
  ].join("\n");
}

export function renderMarkdown(record: DrillRecord, timelineFile: string): string {
  const stats = writeStats(record.writes);
  const t0 = record.startedAt;
  const gap = stats.total > 0 ? `${fmt(stats.longestGapMs)} (at +${fmt(stats.longestGapAt - t0)})` : "n/a";
  const lines = [
    `# Drill report: ${record.title}`,
    "",
    `- Drill: \`${record.drill}\` on stack \`${record.stack}\`, ${new Date(record.startedAt).toISOString()}`,
    `- Machine: ${record.machine}`,
    `- Outcome: **${record.outcome}**${record.error ? ` — ${record.error}` : ""}`,
    "",
    "## Writes",
    "",
    "| total | acknowledged | failed | longest write gap | acknowledged but missing |",
    "|---|---|---|---|---|",
    `| ${stats.total} | ${stats.acknowledged} | ${stats.failed} | ${gap} | ${record.missing.length} |`,
    "",
    `![write availability](${timelineFile})`,
    "",
    "## Steps",
    "",
    "| # | step | `pulumi up` | checks | changes |",
    "|---|---|---|---|---|",
    ...record.steps.map(
      (s, i) =>
        `| ${i + 1} | ${s.title} | ${fmt(s.upEnd - s.upStart)} | ${fmt(s.checksEnd - s.upEnd)} | ${
          Object.entries(s.changes)
            .filter(([k]) => k !== "same")
            .map(([k, v]) => `${k} ${v}`)
            .join(", ") || "none"
        } |`,
    ),
    "",
  ];
  for (const [i, s] of record.steps.entries()) {
    lines.push(`### ${i + 1}. ${s.title}`, "");
    if (s.commands.length > 0) lines.push("```sh", ...s.commands, "pulumi up", "```", "");
    for (const c of s.checks) lines.push(`- ${c}`);
    for (const [k, v] of Object.entries(s.numbers ?? {})) lines.push(`- **${k}**: ${v}`);
    lines.push("");
  }
  if (record.missing.length > 0) {
    lines.push(
      "## Acknowledged writes missing at the end",
      "",
      ...record.missing.map((k) => `- \`${k}\``),
      "",
    );
  }
  if (record.expectedLost.length > 0) {
    lines.push(
      "## Writes expectedly lost",
      "",
      `${record.expectedLost.length} acknowledged writes came after the backup that was restored; losing them is what the RPO means.`,
      "",
    );
  }
  return lines.join("\n");
}
