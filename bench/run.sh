#!/usr/bin/env bash
# ./rwk bench [toolchain|cluster|policy|hosts|etcd|control-plane|workers|all] [--cold]: benchmarks that print ratios against plain baselines
# measured in the same run. Not part of the tests: timings depend on the machine and what else runs.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
shift || true
ts() { node -r ts-node/register/transpile-only "bench/$1.ts" "${@:2}"; }
case $what in
  toolchain) bench/toolchain.sh "$@" ;;
  cluster) bench/cluster.sh "$@" ;;
  policy) bench/policy.sh ;;
  hosts | etcd | control-plane) ts "$what" ;;
  workers) ts control-plane workers ;;
  all)
    bench/toolchain.sh "$@"
    bench/cluster.sh "$@"
    bench/policy.sh
    ts hosts
    ts etcd
    ts control-plane
    ts control-plane workers
    ;;
  *) echo "usage: ./rwk bench [toolchain|cluster|policy|hosts|etcd|control-plane|workers|all] [--cold]" >&2; exit 2 ;;
esac
