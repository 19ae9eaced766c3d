// `pulumi up` from nothing to three SSH-ready hosts, against a plain script that starts the same three
// hosts with the same driver commands (switch-up, then three creates in parallel). Same run, same machine.
import { run } from "../drills/lab";
import { benchStack, median, report, root, seconds } from "./stack";

const rounds = Number(process.env["RWK_BENCH_ROUNDS"] ?? 3);

async function main(): Promise<void> {
  const b = await benchStack("bench-hosts");
  const plainLab = "rwk-bench-plain";
  const viaPulumi: number[] = [];
  const plain: number[] = [];
  try {
    b.configure({ etcdMembers: [] });
    for (let i = 0; i < rounds; i++) {
      viaPulumi.push(await seconds(() => b.stack.up({ color: "never" })));
      await b.stack.destroy({ color: "never" });
      plain.push(
        await seconds(() =>
          run(["bash", `${root}/bench/hosts-baseline.sh`, plainLab], { timeoutMs: 300_000 }),
        ),
      );
      await run(["bash", `${root}/bench/hosts-baseline.sh`, plainLab, "--destroy"]);
    }
  } finally {
    await b.dispose();
    await run(["bash", `${root}/bench/hosts-baseline.sh`, plainLab, "--destroy"]);
  }
  const p = median(viaPulumi);
  const s = median(plain);
  report(`three SSH-ready hosts from nothing (median of ${rounds})`, [
    ["pulumi up (machines driver)", `${p.toFixed(1)} s  [${viaPulumi.map((x) => x.toFixed(1)).join(", ")}]`],
    ["plain script, same driver", `${s.toFixed(1)} s  [${plain.map((x) => x.toFixed(1)).join(", ")}]`],
    ["ratio pulumi / plain", `${(p / s).toFixed(2)}x`],
  ]);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
