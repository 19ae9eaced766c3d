#!/usr/bin/env bash
# README's test command runs this (through ./rwk test, which sets up first): every quality gate, then the
# unit tests, then the integration tests that drive the real engine against the real local lab.
#   test/run-all.sh [--unit-only]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

gate() {
  local name=$1 started=$SECONDS
  shift
  printf '\n[test] %s\n' "$name" >&2
  "$@"
  printf '[test] %s passed in %d s\n' "$name" $((SECONDS - started)) >&2
}

mapfile -t shell_scripts < <(git ls-files -- '*.sh' rwk .ci/run)

# The cluster's releases and their images: the defaults, and the versions the upgrade drill starts from
# (every version versions.json lists). Only the Kubernetes tests use them (the unit tests use stand-ins).
# Warm, this takes a second. Cold, about 15 minutes on 2 cores per Kubernetes release (README,
# "Benchmarks"), so it runs behind the gates and the etcd half's tests, at the lowest CPU priority, and the
# Kubernetes tests (control-plane, drills-kubernetes, drills-workers, ha) wait for it. RWK_BUILD_BEHIND=1
# takes that order on a warm machine too.
mapfile -t cluster_releases < <(node -p 'const c = require("./versions.json").cluster;
  [...c.etcd.map((v) => "etcd@" + v), ...c.kubernetes.map((v) => "kubernetes@" + v),
   "crictl@" + c.crictl, "cni-plugins@" + c.cniPlugins].join("\n")')
mapfile -t cluster_images < <(node -p 'require("./versions.json").cluster.kubernetes.join("\n")')
cluster_build() {
  lab/toolchain/kubernetes.sh "${cluster_releases[@]}" >/dev/null &&
    lab/images/oci/build-images.sh "${cluster_images[@]}" >/dev/null
}
behind_pid=""
behind_log=""
start_cluster_build() {
  [[ ${1:-} == --unit-only ]] && return
  if [[ ${RWK_BUILD_BEHIND:-} != 1 ]] && lab/toolchain/kubernetes.sh --check "${cluster_releases[@]}"; then
    gate "the cluster's binaries and images (cached)" cluster_build
    return
  fi
  behind_log=$(mktemp -t rwk-cluster-build.XXXXXX)
  printf '\n[test] the cluster'"'"'s binaries and images: building behind the tests (log: %s)\n' "$behind_log" >&2
  # A process group of its own (setsid), so that a failed run stops the whole build and nothing else.
  export -f cluster_build
  setsid nice -n 19 bash -c "$(declare -p cluster_releases cluster_images); cluster_build" >"$behind_log" 2>&1 &
  behind_pid=$!
}
stop_cluster_build() {
  [[ -n $behind_pid ]] && kill -0 "$behind_pid" 2>/dev/null && kill -- -"$behind_pid" 2>/dev/null
  return 0
}
trap stop_cluster_build EXIT
wait_cluster_build() {
  local code=0
  wait "$behind_pid" || code=$?
  behind_pid=""
  if ((code != 0)); then
    tail -n 30 "$behind_log" >&2
    printf 'the cluster build failed (exit %d); its log: %s\n' "$code" "$behind_log" >&2
    return "$code"
  fi
  rm -f "$behind_log"
}

start_cluster_build "${1:-}"
gate "typescript (tsc --noEmit)" npx tsc --noEmit
gate "eslint" npx eslint --max-warnings 0 .
gate "prettier" npx prettier --check .
gate "shellcheck" shellcheck "${shell_scripts[@]}"
gate "go vet + go test: command provider" bash -c 'cd lab/toolchain/command-provider && go vet ./... && go test ./...'
gate "go vet + go test: bridged providers" bash -c 'cd lab/toolchain/bridged && go vet ./... && go test ./...'
gate "go vet + go test: dynamic-provider wrapper" bash -c 'cd lab/toolchain/dynamic-provider && go vet ./... && go test ./...'
gate "go vet + go test: image builder (oci, pause)" bash -c 'cd lab/images/oci && go vet ./... && go test ./...'
gate "unit tests (jest)" npx jest --selectProjects unit
[[ ${1:-} == --unit-only ]] && exit 0
gate "lab driver selftest (machines.sh, real containers)" bash lab/drivers/machines.selftest.sh
# Two labs side by side: labs are independent (own namespaces, own stacks), and much of a drill is waiting
# for an event; the longest files start first (test/sequencer.js). Three were tried: on two cores every
# file then took about twice as long and the whole run was longer (RWK_TEST_WORKERS sets it).
workers=${RWK_TEST_WORKERS:-2}
if [[ -z $behind_pid ]]; then
  gate "integration tests (real engine, real lab)" npx jest --selectProjects integration --maxWorkers="$workers"
else
  gate "integration tests but Kubernetes (real engine, real lab)" \
    npx jest --selectProjects integration --maxWorkers="$workers" --testPathIgnorePatterns control-plane drills-kubernetes drills-workers ha.integration drills-ha
  gate "the cluster's binaries and images (built behind the tests)" wait_cluster_build
  gate "integration tests: Kubernetes" \
    npx jest --selectProjects integration --maxWorkers="$workers" --testPathPatterns control-plane drills-kubernetes drills-workers ha.integration drills-ha
fi
