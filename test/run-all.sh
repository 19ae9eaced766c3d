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
# Two workers: labs are independent (own namespaces, own stacks), and much of a drill is waiting.
gate "integration tests (real engine, real lab)" npx jest --selectProjects integration --maxWorkers=2
