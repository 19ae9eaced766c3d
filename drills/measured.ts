// Puts a drill run's numbers into its docs page, between <!-- measured --> markers:
//   npx ts-node --transpile-only drills/measured.ts [reports-dir] && npx prettier --write docs/drills
import * as fs from "fs";
import * as path from "path";
import { writeStats } from "./report";
import type { DrillRecord } from "./report";

const start = "<!-- measured:start -->";
const end = "<!-- measured:end -->";

const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`);

/** The page's "Measured" section for one recorded run. Pure, for tests. */
export function measuredSection(record: DrillRecord): string {
  const stats = writeStats(record.writes);
  const lines = [
    start,
    `Run of ${new Date(record.startedAt).toISOString().slice(0, 16).replace("T", " ")} UTC on ${record.machine}: **${record.outcome}**.`,
    "",
    `![write availability during the drill: green acknowledged, red failed](${record.drill}.svg)`,
    "",
    "| writes | acknowledged | failed | longest write gap | acknowledged but missing |",
    "|---|---|---|---|---|",
    `| ${stats.total} | ${stats.acknowledged} | ${stats.failed} | ${fmt(stats.longestGapMs)} | ${record.missing.length} |`,
    "",
    "| step | `pulumi up` | checks |",
    "|---|---|---|",
    ...record.steps.map(
      (s) => `| ${s.title} | ${fmt(s.upEnd - s.upStart)} | ${fmt(s.checksEnd - s.upEnd)} |`,
    ),
  ];
  const numbers = record.steps.flatMap((s) => Object.entries(s.numbers ?? {}));
  if (numbers.length > 0) lines.push("", ...numbers.map(([k, v]) => `- ${k}: **${v}**`));
  if (record.expectedLost.length > 0)
    lines.push(`- writes expectedly lost (acknowledged after the backup): ${record.expectedLost.length}`);
  lines.push(end);
  return lines.join("\n");
}

function main(): void {
  const reports = path.resolve(process.argv[2] ?? path.join(__dirname, "..", "reports"));
  const docs = path.join(__dirname, "..", "docs", "drills");
  for (const file of fs.readdirSync(reports).filter((f) => f.endsWith(".json"))) {
    const record = JSON.parse(fs.readFileSync(path.join(reports, file), "utf8")) as DrillRecord;
    const page = path.join(docs, `${record.drill}.md`);
    if (!fs.existsSync(page)) continue;
    const text = fs.readFileSync(page, "utf8");
    const i = text.indexOf(start);
    const j = text.indexOf(end);
    if (i < 0 || j < 0) throw new Error(`${page} has no ${start} … ${end} markers`);
    fs.writeFileSync(page, text.slice(0, i) + measuredSection(record) + text.slice(j + end.length));
    fs.copyFileSync(path.join(reports, `${record.drill}.svg`), path.join(docs, `${record.drill}.svg`));
    process.stdout.write(`updated ${page}\n`);
  }
}

if (require.main === module) main();
