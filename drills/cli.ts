// npm run drill -- <name>: runs one drill end to end and prints where its report is.
import { drills } from "./index";
import { runDrill } from "./runner";

async function main(): Promise<void> {
  const name = process.argv[2];
  const drill = name ? drills[name] : undefined;
  if (!drill) {
    process.stderr.write(`usage: npm run drill -- <${Object.keys(drills).join("|")}>\n`);
    process.exit(2);
  }
  process.stderr.write(`running drill ${drill.name}: ${drill.title}\n`);
  const { record, reportFile } = await runDrill(drill);
  process.stderr.write(`drill ${drill.name} ${record.outcome}; report: ${reportFile}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`drill failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
