#!/usr/bin/env bash
# The plain baseline for bench/etcd.ts: three hosts with the same driver, then the same etcd steps the
# stack takes (first member alone, then each new member added as a learner, started, promoted), by
# hand over SSH, with no engine, no certificates, no guards.
#   bench/etcd-baseline.sh <lab>   (removed with removeLab)
set -euo pipefail
lab=$1
here=$(cd "$(dirname "$0")" && pwd)
drv=$here/../lab/drivers/machines.sh
key=$(mktemp -d)
trap 'rm -rf "$key"' EXIT
ssh-keygen -q -t ed25519 -N '' -f "$key/id"
"$here/hosts-baseline.sh" "$lab" "$key"

on() {
  local port
  port=$("$drv" info "$lab" "$1" | sed -n 's/.*"sshPort": *\([0-9]*\).*/\1/p')
  shift
  ssh -i "$key/id" -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
    -o BatchMode=yes root@127.0.0.1 "$@"
}
ctl() { "$drv" exec "$lab" etcdctl --endpoints=http://172.17.8.101:2379 "$@"; }
start() {
  local host=$1 addr=$2 cluster=$3 state=$4
  printf '%s\n' "ETCD_NAME=$host" "ETCD_DATA_DIR=/var/lib/etcd/plain" \
    "ETCD_LISTEN_CLIENT_URLS=http://$addr:2379,http://127.0.0.1:2379" "ETCD_ADVERTISE_CLIENT_URLS=http://$addr:2379" \
    "ETCD_LISTEN_PEER_URLS=http://$addr:2380" "ETCD_INITIAL_ADVERTISE_PEER_URLS=http://$addr:2380" \
    "ETCD_INITIAL_CLUSTER=$cluster" "ETCD_INITIAL_CLUSTER_STATE=$state" |
    on "$host" 'cat >/etc/default/etcd && systemctl start --no-block etcd &&
      until etcdctl endpoint status >/dev/null 2>&1; do sleep 0.2; done'
}

start core-01 172.17.8.101 core-01=http://172.17.8.101:2380 new
cluster=core-01=http://172.17.8.101:2380
for i in 2 3; do
  host=core-0$i
  addr=172.17.8.10$i
  until ctl member add "$host" --learner --peer-urls="http://$addr:2380" >/dev/null 2>&1; do sleep 0.5; done
  cluster=$cluster,$host=http://$addr:2380
  start "$host" "$addr" "$cluster" existing
  id=$(ctl member list | awk -F', ' -v n="$host" '$3==n{print $1}')
  until ctl member promote "$id" >/dev/null 2>&1; do sleep 0.5; done
done
until [[ $(ctl endpoint health --cluster 2>&1 | grep -c 'is healthy') == 3 ]]; do sleep 0.2; done
