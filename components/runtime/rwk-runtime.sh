#!/bin/bash
# rwk-runtime: the container runtime of one host (containerd with runc), run on that host by Pulumi
# (remote commands).
#
#   rwk-runtime start [--config H]
#       enable containerd and start it, or restart it when a file it reads only at start changed since it
#       last started (the restart marker the install script leaves); wait until its CRI answers ready.
#       H, the hash of its configuration, is recorded for people.
#   rwk-runtime import --ref R --digest D --archive A
#       import the image archive A into containerd's CRI namespace unless R is there at D already, check
#       that R is at D, and remove A: an archive only travels to the host to be imported.
#
# The unit, namespace, socket, crictl and the paths (unit, namespace, socket, crictl, restart_pending,
# applied_config, routes_file, route_proto) are not set here: the program renders them from components/runtime/facts.ts in front
# of this body when it pushes the helper.
# start_command (unit_start, record_config) comes from components/host/rwk-unit.sh, rendered in after the
# facts.
# shellcheck disable=SC2154
set -euo pipefail

wait_seconds=${RWK_RUNTIME_WAIT:-60}

log() { printf 'rwk-runtime: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
ctr() { command ctr --address "$socket" --namespace "$namespace" "$@"; }

# cri_ready: the CRI answers and reports the runtime ready (the network too: the CNI config is in place).
cri_ready() {
  local info
  info=$("$crictl" --runtime-endpoint "unix://$socket" --timeout 2s info 2>/dev/null) &&
    [[ $(jq -r '[.status.conditions[] | select(.status != true)] | length' <<<"$info") == 0 ]]
}

# systemd_cgroups: containerd's process is in its unit's own memory cgroup, or the host has no cgroup v1
# memory hierarchy. In a system container that means systemd re-executed after the container mounts and
# manages the controllers, which the systemd cgroup driver needs; until then runc's calls would race it.
systemd_cgroups() {
  local pid
  pid=$(systemctl show --property MainPID --value "$unit" 2>/dev/null) && [[ $pid != 0 ]] || return 1
  ! grep -q '^[0-9]*:memory:' "/proc/$pid/cgroup" || grep -q ":memory:/system.slice/$unit\$" "/proc/$pid/cgroup"
}

# runtime_ready: the CRI is ready and containerd runs under systemd's cgroups.
runtime_ready() { cri_ready && systemd_cgroups; }

cmd_start() {
  if ! command -v containerd >/dev/null || ! command -v runc >/dev/null; then
    die "containerd and runc are not installed (the lab's image has them; elsewhere: apt-get install containerd runc)"
  fi
  start_command start containerd "$unit" "$restart_pending" "$applied_config" "$wait_seconds" "containerd's CRI" \
    runtime_ready ready "$@"
}

# digest_of <ref>: the manifest digest containerd has for the ref, if it has it.
digest_of() { ctr images ls "name==$1" | awk 'NR > 1 { print $3 }'; }

cmd_import() {
  local ref="" digest="" archive=""
  while (($#)); do
    case $1 in
      --ref) ref=$2; shift 2 ;;
      --digest) digest=$2; shift 2 ;;
      --archive) archive=$2; shift 2 ;;
      *) die "import: unknown argument $1" ;;
    esac
  done
  [[ -n $ref && -n $digest && -n $archive ]] || die "import needs --ref, --digest and --archive"
  if [[ $(digest_of "$ref") == "$digest" ]]; then
    rm -f "$archive"
    log "$ref is already at $digest"
    return 0
  fi
  [[ -f $archive ]] || die "$ref is not at $digest here and its archive $archive is gone: replace this import and its copy (pulumi up --replace)"
  local started=${EPOCHREALTIME/./} size
  size=$(stat -c %s "$archive")
  ctr images import "$archive" >/dev/null
  local got
  got=$(digest_of "$ref")
  [[ $got == "$digest" ]] || die "imported $archive, but containerd has $ref at ${got:-nothing}, not $digest"
  rm -f "$archive"
  local ms=$(((${EPOCHREALTIME/./} - started) / 1000))
  log "imported $ref@$digest ($(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1e6 }') MB) in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
}

cmd_routes() {
  local clear=""
  while (($#)); do
    case $1 in
      --clear) clear=1; shift ;;
      *) die "routes: unknown argument $1" ;;
    esac
  done
  local -A want=()
  local subnet gateway
  if [[ -z $clear && -f $routes_file ]]; then
    sysctl -qw net.ipv4.ip_forward=1
    while read -r subnet gateway; do
      [[ -z $subnet || $subnet == \#* ]] && continue
      ip route replace "$subnet" via "$gateway" proto "$route_proto"
      want[$subnet]=1
    done <"$routes_file"
  fi
  local route
  while read -r route _; do
    [[ -n $route && -z ${want[$route]:-} ]] || continue
    ip route del "$route" proto "$route_proto"
  done < <(ip route show proto "$route_proto")
  log "routes to ${#want[@]} pod subnet(s) of other nodes in place"
}

case ${1:-} in
  start | import | routes)
    cmd=$1
    shift
    "cmd_$cmd" "$@"
    ;;
  *) die "usage: rwk-runtime start [--config H] | import --ref R --digest D --archive A | routes [--clear]" ;;
esac
