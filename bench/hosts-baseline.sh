#!/usr/bin/env bash
# The plain baseline for bench/hosts.ts: the same three hosts, the same driver commands, no engine.
#   bench/hosts-baseline.sh <lab> [--destroy]
set -euo pipefail
lab=$1
drv=$(dirname "$0")/../lab/machines.sh
if [[ ${2:-} == --destroy ]]; then
  for h in core-01 core-02 core-03; do "$drv" destroy "$lab" "$h"; done
  "$drv" switch-down "$lab" 2>/dev/null || true
  exit 0
fi
key=$(mktemp -d)
trap 'rm -rf "$key"' EXIT
ssh-keygen -q -t ed25519 -N '' -f "$key/id"
"$drv" switch-up "$lab" 172.17.8.0/24
# create waits until sshd answers, as the engine's Machine resource does.
pids=()
for i in 1 2 3; do
  "$drv" create "$lab" "core-0$i" "172.17.8.10$i" "$key/id.pub" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
