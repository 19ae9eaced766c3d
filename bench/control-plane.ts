// The cluster: `pulumi up` from nothing to three hosts, a three-member etcd on mutual TLS, the control
// plane on core-01 ready (/readyz) and the pause Deployment created, against a plain kubeadm-like script
// of the same steps (bench/control-plane-baseline.ts) in the same run. Goal: under 90 s, at most 1.5x the
// plain script. With `workers`: the same, then core-02 and core-03 Ready workers (kube-proxy, pod routes)
// and the workloads ready (cluster DNS, pause, web). Goal: under 3 minutes, at most 1.5x.
//
//   node -r ts-node/register/transpile-only bench/control-plane.ts [workers]
import * as path from "path";
import { projectRoot, removeLab, run } from "../workstation/lab";
import { throwawayStack } from "../workstation/stack";
import { median, report, samples, seconds } from "./stack";

const rounds = Number(process.env["RWK_BENCH_ROUNDS"] ?? 1);
const plainLab = "rwk-bench-plain-cp";
const withWorkers = process.argv[2] === "workers";

async function plain(): Promise<number> {
  try {
    return await seconds(async () => {
      const r = await run(
        [
          process.execPath,
          "-r",
          "ts-node/register/transpile-only",
          path.join(projectRoot, "bench", "control-plane-baseline.ts"),
          plainLab,
          ...(withWorkers ? ["workers"] : []),
        ],
        { timeoutMs: 900_000 },
      );
      process.stderr.write(r.stderr);
      if (r.code !== 0) throw new Error(`the plain baseline failed (exit ${r.code})`);
    });
  } finally {
    await removeLab("machines", plainLab);
  }
}

async function main(): Promise<void> {
  const b = await throwawayStack(withWorkers ? "bench-workers" : "bench-control-plane");
  const viaPulumi: number[] = [];
  const viaPlain: number[] = [];
  try {
    b.configure({
      etcdMembers: ["core-01", "core-02", "core-03"],
      controlPlane: ["core-01"],
      ...(withWorkers ? { workers: ["core-02", "core-03"] } : {}),
    });
    for (let i = 0; i < rounds; i++) {
      viaPulumi.push(await seconds(() => b.stack.up({ color: "never" })));
      await b.stack.destroy({ color: "never" });
      viaPlain.push(await plain());
    }
  } finally {
    await b.dispose();
  }
  const [p, s] = [median(viaPulumi), median(viaPlain)];
  report(
    withWorkers
      ? `cluster: nothing → 3 hosts, 3-member etcd on mTLS, control plane, 2 Ready workers, workloads ready (median of ${rounds})`
      : `control plane: nothing → 3 hosts, 3-member etcd on mTLS, /readyz, pause Deployment (median of ${rounds})`,
    [
      [
        "pulumi up",
        `${p.toFixed(1)} s  ${samples(viaPulumi)}  (goal: under ${withWorkers ? "180" : "90"} s)`,
      ],
      ["plain script (kubeadm-like)", `${s.toFixed(1)} s  ${samples(viaPlain)}`],
      ["ratio pulumi / plain", `${(p / s).toFixed(2)}x  (goal: at most 1.5x)`],
    ],
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
