#!/usr/bin/env bash
# The plain baseline for bench/hosts.ts: the same three hosts, the same driver commands, no engine.
# bench/etcd-baseline.sh starts its hosts with it too, with its own key. Removed with removeLab.
#   bench/hosts-baseline.sh <lab> [KEYDIR]   (KEYDIR/id.pub is authorized; default: a throwaway key)
set -euo pipefail
lab=$1
drv=$(dirname "$0")/../lab/drivers/machines.sh
key=${2:-}
if [[ -z $key ]]; then
  key=$(mktemp -d)
  trap 'rm -rf "$key"' EXIT
  ssh-keygen -q -t ed25519 -N '' -f "$key/id"
fi
"$drv" switch-up "$lab" 172.17.8.0/24
# create waits until sshd answers, as the engine's Machine resource does.
pids=()
for i in 1 2 3; do
  "$drv" create "$lab" "core-0$i" "172.17.8.10$i" "$key/id.pub" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
