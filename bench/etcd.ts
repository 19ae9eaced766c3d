// etcd: `pulumi up` from nothing to three healthy members against a plain script doing the same steps on
// the same kind of hosts; the time of one membership step; the longest write gap of member-failure.
import { drills } from "../drills/index";
import { writeStats } from "../drills/report";
import { runDrill } from "../drills/runner";
import { throwawayStack } from "../workstation/stack";
import { median, report, samples, seconds, timePlain } from "./stack";

const rounds = Number(process.env["RWK_BENCH_ROUNDS"] ?? 2);
const three = ["core-01", "core-02", "core-03"];

async function main(): Promise<void> {
  const b = await throwawayStack("bench-etcd");
  const viaPulumi: number[] = [];
  const viaPulumiTls: number[] = [];
  const plain: number[] = [];
  const addOne: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      // Plaintext, like the baseline; then the default (mutual TLS, certificates made on the way).
      b.configure({ etcdMembers: three, etcdTls: "off" });
      viaPulumi.push(await seconds(() => b.stack.up({ color: "never" })));
      b.configure({ etcdMembers: three.slice(0, 2), etcdTls: "off" });
      await b.stack.up({ color: "never" });
      b.configure({ etcdMembers: three, etcdTls: "off" });
      addOne.push(await seconds(() => b.stack.up({ color: "never" })));
      await b.stack.destroy({ color: "never" });
      b.configure({ etcdMembers: three });
      viaPulumiTls.push(await seconds(() => b.stack.up({ color: "never" })));
      await b.stack.destroy({ color: "never" });
      plain.push(await timePlain("etcd-baseline.sh", 600_000));
    }
  } finally {
    await b.dispose();
  }
  const { record } = await runDrill(drills["member-failure"]!);
  const gap = writeStats(record.writes).longestGapMs;
  const [p, t, s] = [median(viaPulumi), median(viaPulumiTls), median(plain)];
  report(`etcd: nothing → three healthy members (median of ${rounds})`, [
    ["pulumi up, plaintext", `${p.toFixed(1)} s  ${samples(viaPulumi)}`],
    ["pulumi up, mutual TLS (default)", `${t.toFixed(1)} s  ${samples(viaPulumiTls)}`],
    ["plain script, plaintext", `${s.toFixed(1)} s  ${samples(plain)}`],
    ["ratio pulumi / plain (plaintext)", `${(p / s).toFixed(2)}x`],
    ["one membership step (add core-03)", `${median(addOne).toFixed(1)} s  ${samples(addOne)}`],
    ["member-failure: longest write gap", `${(gap / 1000).toFixed(2)} s (${record.outcome})`],
  ]);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
