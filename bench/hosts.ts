// `pulumi up` from nothing to three SSH-ready hosts, against a plain script that starts the same three
// hosts with the same driver commands (switch-up, then three creates in parallel). Same run, same machine.
import { throwawayStack } from "../workstation/stack";
import { median, report, samples, seconds, timePlain } from "./stack";

const rounds = Number(process.env["RWK_BENCH_ROUNDS"] ?? 3);

async function main(): Promise<void> {
  const b = await throwawayStack("bench-hosts");
  const viaPulumi: number[] = [];
  const plain: number[] = [];
  try {
    b.configure({ etcdMembers: [], allowDataLoss: b.stack.name });
    for (let i = 0; i < rounds; i++) {
      viaPulumi.push(await seconds(() => b.stack.up({ color: "never" })));
      await b.stack.destroy({ color: "never" });
      plain.push(await timePlain("hosts-baseline.sh", 300_000));
    }
  } finally {
    await b.dispose();
  }
  const p = median(viaPulumi);
  const s = median(plain);
  report(`three SSH-ready hosts from nothing (median of ${rounds})`, [
    ["pulumi up (machines driver)", `${p.toFixed(1)} s  ${samples(viaPulumi)}`],
    ["plain script, same driver", `${s.toFixed(1)} s  ${samples(plain)}`],
    ["ratio pulumi / plain", `${(p / s).toFixed(2)}x`],
  ]);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
