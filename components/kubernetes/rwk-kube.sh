#!/bin/bash
# rwk-kube: the kubelet and the control plane's static pods of one host, run there by Pulumi (remote
# commands).
#
#   rwk-kube start-kubelet [--config H]
#       enable the kubelet and start it, or restart it when a file it reads only at start changed since it
#       last started (the restart marker the install script leaves); wait until its health check answers.
#   rwk-kube wait-control-plane --apiserver URL --pod NAME=INPUTS...
#       wait until each static pod NAME runs with the inputs label INPUTS (the manifest just pushed, not the
#       one before) and its containers are ready, then until the API server at URL answers /readyz and the
#       controller manager's and scheduler's health checks answer ok.
#   rwk-kube stop
#       stop and disable the kubelet, then remove the pods it left (a host that leaves every role).
#   rwk-kube start-proxy [--config H]
#       as start-kubelet, for kube-proxy: wait until its health check says its rules are in sync.
#   rwk-kube stop-proxy
#       stop and disable kube-proxy and remove its iptables rules.
#   rwk-kube start-vip --endpoint URL [--config H]
#       (on a control-plane host) start keepalived, or have it read its configuration again when it
#       changed (a reload: the virtual IP stays where it is); wait until the virtual IP answers /readyz.
#   rwk-kube stop-vip
#       stop and disable keepalived: a peer takes the virtual IP at once.
#   rwk-kube node-join --node NAME --pod-cidr CIDR --kubelet VERSION [--role ROLE]...
#       (on a control-plane host, as the admin) wait until the node NAME registered and is Ready with a
#       kubelet at VERSION, give it its pod CIDR unless it has one (a node's pod CIDR is set once; another
#       one is refused), label its roles (node-role.kubernetes.io/ROLE), removing role labels it no longer
#       has (a node that is a control-plane host and no worker gets kubeadm's control-plane taint, a worker
#       loses it), and uncordon it (a drain for an upgrade cordoned it).
#   rwk-kube node-upgrade-drain --node NAME --kubelet VERSION
#       (on a control-plane host, as the admin) before the node's kubelet moves to VERSION: cordon the node
#       and evict its pods, as node-drain does, and keep its Node. Nothing to do for a node not registered
#       (a new one), on a host whose control plane is not there yet (being created, or joining again), or
#       for a node whose kubelet already runs VERSION (an upgrade interrupted after this node).
#   rwk-kube node-drain --node NAME
#       (on a control-plane host, as the admin) cordon the node, evict its pods through the eviction API
#       (PodDisruptionBudgets hold a drain until the evicted pods run elsewhere), then delete its Node.
#
# The facts (kubelet_unit, restart_pending, applied_config, crictl, ca, kubelet_healthz, the ports, the
# proxy_* and vip_* facts, admin_kubeconfig, apiserver_manifest, taint_key, taint_effect) are
# rendered from components/kubernetes/facts.ts in front of this body when the program pushes it.
# start_command (unit_start, record_config) comes from components/host/rwk-unit.sh, rendered in after the
# facts.
# shellcheck disable=SC2154
set -euo pipefail

wait_seconds=${RWK_KUBE_WAIT:-180}
inputs_label=real-world-kubernetes/inputs

log() { printf 'rwk-kube: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

kubelet_healthy() { [[ $(curl -fsS --max-time 2 "$kubelet_healthz" 2>/dev/null) == ok ]]; }

cmd_start_kubelet() {
  start_command start-kubelet kubelet "$kubelet_unit" "$restart_pending" "$applied_config" "$wait_seconds" \
    "the kubelet's health check" kubelet_healthy healthy "$@"
}

# pod_ready NAME INPUTS: a ready sandbox of the static pod with these inputs, every container of it running.
pod_ready() {
  local sandbox
  sandbox=$("$crictl" pods --name "^$1\$" --label "$inputs_label=$2" --state ready -q 2>/dev/null | head -n 1)
  [[ -n $sandbox ]] || return 1
  [[ -n $("$crictl" ps --pod "$sandbox" --state running -q 2>/dev/null) ]]
}

# healthy URL [curl options...]: the endpoint answers "ok".
healthy() {
  local url=$1
  shift
  [[ $(curl -sS --max-time 2 "$@" "$url" 2>/dev/null) == ok ]]
}

cmd_wait_control_plane() {
  local apiserver="" pods=()
  while (($#)); do
    case $1 in
      --apiserver) apiserver=$2; shift 2 ;;
      --pod) pods+=("$2"); shift 2 ;;
      *) die "wait-control-plane: unknown argument $1" ;;
    esac
  done
  [[ -n $apiserver ]] || die "wait-control-plane: --apiserver URL is required"
  local deadline=$((SECONDS + wait_seconds)) p waiting
  while :; do
    waiting=""
    for p in "${pods[@]}"; do
      pod_ready "${p%%=*}" "${p#*=}" || { waiting="static pod ${p%%=*} with inputs ${p#*=}"; break; }
    done
    if [[ -z $waiting ]]; then
      if ! healthy "$apiserver/readyz" --cacert "$ca"; then
        waiting="the API server's /readyz at $apiserver"
      elif ! healthy "https://127.0.0.1:$controller_manager_port/healthz" -k; then
        waiting="the controller manager's /healthz"
      elif ! healthy "https://127.0.0.1:$scheduler_port/healthz" -k; then
        waiting="the scheduler's /healthz"
      else
        break
      fi
    fi
    ((SECONDS < deadline)) || die "control plane not ready within ${wait_seconds}s: waited for $waiting (crictl pods; journalctl -u $kubelet_unit)"
    sleep 0.5
  done
  log "control plane ready: ${pods[*]}"
}

cmd_stop() {
  unit_retire "$kubelet_unit"
  local pods
  pods=$("$crictl" pods -q 2>/dev/null || true)
  if [[ -n $pods ]]; then
    # shellcheck disable=SC2086
    "$crictl" stopp $pods >/dev/null && "$crictl" rmp $pods >/dev/null
  fi
  log "kubelet stopped, its pods removed"
}

proxy_healthy() { curl -fsS --max-time 2 -o /dev/null "$proxy_healthz" 2>/dev/null; }

cmd_start_proxy() {
  start_command start-proxy kube-proxy "$proxy_unit" "$proxy_restart_pending" "$proxy_applied_config" \
    "$wait_seconds" "kube-proxy's health check (rules in sync)" proxy_healthy "in sync" "$@"
}

cmd_stop_proxy() {
  unit_retire "$proxy_unit"
  if command -v kube-proxy >/dev/null; then kube-proxy --cleanup >/dev/null 2>&1 || true; fi
  log "kube-proxy stopped, its rules removed"
}

# start-vip: keepalived runs the configuration just pushed (started, or told to read it again: a reload
# keeps the address where it is, a restart would drop it), and the virtual IP answers /readyz from here.
cmd_start_vip() {
  local endpoint="" config="" deadline
  while (($#)); do
    case $1 in
      --endpoint) endpoint=$2; shift 2 ;;
      --config) config=$2; shift 2 ;;
      *) die "start-vip: unknown argument $1" ;;
    esac
  done
  [[ -n $endpoint ]] || die "start-vip: --endpoint URL is required"
  unit_ctl enable --quiet "$vip_unit"
  local action=""
  if ! unit_active "$vip_unit"; then
    action=start
    unit_ctl start "$vip_unit"
  elif [[ -e $vip_reload_pending ]]; then
    action=reload
    unit_ctl reload "$vip_unit"
  fi
  rm -f "$vip_reload_pending"
  deadline=$((SECONDS + wait_seconds))
  # Through the cluster's CA: the API server's certificate must name the virtual IP.
  until unit_active "$vip_unit" && healthy "$endpoint/readyz" --cacert "$ca"; do
    ((SECONDS < deadline)) ||
      die "the virtual IP ($endpoint) did not answer /readyz within ${wait_seconds}s (journalctl -u $vip_unit on the control-plane hosts)"
    sleep 0.5
  done
  [[ -z $config ]] || record_config "$vip_applied_config" "$config"
  log "keepalived ${action:+${action}ed and }running; $endpoint answers${config:+ (configuration $config)}"
}

cmd_stop_vip() {
  # Stopping sends VRRP's priority 0: a peer takes the address at once.
  unit_retire "$vip_unit"
  log "keepalived stopped: this host no longer holds the virtual IP"
}

admin_kubectl() { kubectl --kubeconfig "$admin_kubeconfig" --request-timeout=10s "$@"; }

# node_state NODE: "<Ready status> <kubelet version>" of a registered node ("True v1.34.4").
node_state() {
  admin_kubectl get node "$1" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.nodeInfo.kubeletVersion}' 2>/dev/null
}

cmd_node_join() {
  local node="" cidr="" kubelet="" roles=()
  while (($#)); do
    case $1 in
      --node) node=$2; shift 2 ;;
      --pod-cidr) cidr=$2; shift 2 ;;
      --kubelet) kubelet=$2; shift 2 ;;
      --role) roles+=("$2"); shift 2 ;;
      *) die "node-join: unknown argument $1" ;;
    esac
  done
  [[ -n $node && -n $cidr && -n $kubelet ]] ||
    die "node-join: --node NAME, --pod-cidr CIDR and --kubelet VERSION are required"
  local deadline=$((SECONDS + wait_seconds)) have="" state=""
  until have=$(admin_kubectl get node "$node" -o 'jsonpath={.spec.podCIDR}' 2>/dev/null); do
    ((SECONDS < deadline)) || die "node $node did not register within ${wait_seconds}s (journalctl -u $kubelet_unit on $node)"
    sleep 0.5
  done
  if [[ -z $have ]]; then
    admin_kubectl patch node "$node" --type merge \
      -p "$(jq -cn --arg cidr "$cidr" '{spec: {podCIDR: $cidr, podCIDRs: [$cidr]}}')" >/dev/null
  elif [[ $have != "$cidr" ]]; then
    die "node $node has pod CIDR $have, not $cidr: a node's pod CIDR is set once (delete the Node to change it)"
  fi
  until [[ $state == "True v$kubelet" ]]; do
    ((SECONDS < deadline)) ||
      die "node $node not Ready with kubelet v$kubelet within ${wait_seconds}s: Ready and kubelet are '${state:-unknown}' (kubectl describe node $node)"
    sleep 0.5
    state=$(node_state "$node" || true)
  done
  local labels=() role
  for role in control-plane worker; do
    if [[ " ${roles[*]} " == *" $role "* ]]; then
      labels+=("node-role.kubernetes.io/$role=")
    else
      labels+=("node-role.kubernetes.io/$role-")
    fi
  done
  admin_kubectl label node "$node" --overwrite "${labels[@]}" >/dev/null
  # kubeadm's taint on a control-plane host that runs no workloads, none on a worker. The kubelet taints
  # only when it registers: a host whose roles change gets its taint here.
  local tainted
  tainted=$(admin_kubectl get node "$node" -o "jsonpath={.spec.taints[?(@.key==\"$taint_key\")].effect}")
  if [[ " ${roles[*]} " == *" worker "* ]]; then
    [[ -z $tainted ]] || admin_kubectl taint node "$node" "$taint_key:$taint_effect-" >/dev/null
  elif [[ -z $tainted ]]; then
    admin_kubectl taint node "$node" "$taint_key:$taint_effect" >/dev/null
  fi
  admin_kubectl uncordon "$node" >/dev/null
  log "node $node registered, Ready and schedulable, kubelet v$kubelet, pod CIDR $cidr, roles: ${roles[*]:-none}"
}

# drain NODE: cordon the node and evict its pods through the eviction API (PodDisruptionBudgets hold a
# drain until the evicted pods run elsewhere). A pod of a node whose kubelet is gone is never confirmed
# deleted: after 30 s it counts as gone.
drain() {
  admin_kubectl drain "$1" --ignore-daemonsets --delete-emptydir-data --skip-wait-for-delete-timeout=30 \
    --timeout="${wait_seconds}s" >&2 ||
    die "node $1 not drained: refused, or not within ${wait_seconds}s (kubectl's message above; kubectl get pdb -A). It stays cordoned and its kubelet still runs: nothing was stopped"
}

cmd_node_upgrade_drain() {
  local node="" kubelet=""
  while (($#)); do
    case $1 in
      --node) node=$2; shift 2 ;;
      --kubelet) kubelet=$2; shift 2 ;;
      *) die "node-upgrade-drain: unknown argument $1" ;;
    esac
  done
  [[ -n $node && -n $kubelet ]] || die "node-upgrade-drain: --node NAME and --kubelet VERSION are required"
  # No API server on this host yet (a first control plane being created, or a host joining the control
  # plane again, with an admin.conf left from before): there is no release to move from here.
  if [[ ! -e $admin_kubeconfig || ! -e $apiserver_manifest ]]; then
    log "no control plane on this host yet: no node to drain from here"
    return 0
  fi
  # The node must be read: an API that does not answer fails the drain rather than skips it.
  local deadline=$((SECONDS + wait_seconds)) out
  until out=$(admin_kubectl get node "$node" --ignore-not-found \
    -o 'jsonpath={.metadata.name} {.status.nodeInfo.kubeletVersion}' 2>&1); do
    ((SECONDS < deadline)) || die "node $node could not be read within ${wait_seconds}s: $out"
    sleep 1
  done
  if [[ -z $out ]]; then
    log "node $node is not registered: nothing to drain"
  elif [[ ${out#* } == "v$kubelet" ]]; then
    log "node $node's kubelet already runs v$kubelet: nothing to drain"
  else
    drain "$node"
    log "node $node (kubelet ${out#* }) cordoned and drained for kubelet v$kubelet"
  fi
}

cmd_node_drain() {
  local node=""
  while (($#)); do
    case $1 in
      --node) node=$2; shift 2 ;;
      *) die "node-drain: unknown argument $1" ;;
    esac
  done
  [[ -n $node ]] || die "node-drain: --node NAME is required"
  if ! admin_kubectl get node "$node" >/dev/null 2>&1; then
    log "node $node is not registered: nothing to drain"
    return 0
  fi
  drain "$node"
  admin_kubectl delete node "$node" --wait=true >/dev/null
  log "node $node drained and deleted"
}

case ${1:-} in
  start-kubelet) shift; cmd_start_kubelet "$@" ;;
  wait-control-plane) shift; cmd_wait_control_plane "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  start-proxy) shift; cmd_start_proxy "$@" ;;
  stop-proxy) shift; cmd_stop_proxy "$@" ;;
  start-vip) shift; cmd_start_vip "$@" ;;
  stop-vip) shift; cmd_stop_vip "$@" ;;
  node-join) shift; cmd_node_join "$@" ;;
  node-drain) shift; cmd_node_drain "$@" ;;
  node-upgrade-drain) shift; cmd_node_upgrade_drain "$@" ;;
  *) die "usage: rwk-kube start-kubelet [--config H] | wait-control-plane --apiserver URL --pod NAME=INPUTS... | stop | start-proxy [--config H] | stop-proxy | start-vip --endpoint URL [--config H] | stop-vip | node-join --node NAME --pod-cidr CIDR --kubelet VERSION [--role ROLE]... | node-drain --node NAME | node-upgrade-drain --node NAME --kubelet VERSION" ;;
esac
