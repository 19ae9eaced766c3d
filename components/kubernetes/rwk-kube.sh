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
#
# The facts (kubelet_unit, restart_pending, applied_config, crictl, ca, kubelet_healthz, the ports) are
# rendered from components/kubernetes/facts.ts in front of this body when the program pushes it.
# unit_start and record_config come from components/host/rwk-unit.sh, rendered in after the facts.
# shellcheck disable=SC2154
set -euo pipefail

wait_seconds=${RWK_KUBE_WAIT:-180}
inputs_label=real-world-kubernetes/inputs

log() { printf 'rwk-kube: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

kubelet_healthy() { [[ $(curl -fsS --max-time 2 "$kubelet_healthz" 2>/dev/null) == ok ]]; }

cmd_start_kubelet() {
  local config=""
  while (($#)); do
    case $1 in
      --config) config=$2; shift 2 ;;
      *) die "start-kubelet: unknown argument $1" ;;
    esac
  done
  # The unit and its drop-in are files of ours: systemd reads them again before anything starts.
  systemctl daemon-reload
  unit_start "$kubelet_unit" "$restart_pending" "$wait_seconds" "the kubelet's health check" kubelet_healthy || exit 1
  [[ -z $config ]] || record_config "$applied_config" "$config"
  log "kubelet ${unit_action:+${unit_action}ed and }healthy${config:+ with configuration $config}"
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
  systemctl disable --now "$kubelet_unit" >/dev/null 2>&1 || true
  local pods
  pods=$("$crictl" pods -q 2>/dev/null || true)
  if [[ -n $pods ]]; then
    # shellcheck disable=SC2086
    "$crictl" stopp $pods >/dev/null && "$crictl" rmp $pods >/dev/null
  fi
  log "kubelet stopped, its pods removed"
}

case ${1:-} in
  start-kubelet) shift; cmd_start_kubelet "$@" ;;
  wait-control-plane) shift; cmd_wait_control_plane "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) die "usage: rwk-kube start-kubelet [--config H] | wait-control-plane --apiserver URL --pod NAME=INPUTS... | stop" ;;
esac
