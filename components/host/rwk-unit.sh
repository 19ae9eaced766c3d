# shellcheck shell=bash
# Starting a service of ours one way on every host: the program renders these functions into the helpers
# that start services (rwk-runtime: containerd; rwk-kube: the kubelet), after their facts.

unit_invocation() { systemctl show --property InvocationID --value "$1" 2>/dev/null || true; }

# unit_start <unit> <restart marker> <seconds> <what> <ready command...>: enables the unit, starts it if
# it is not running or restarts it when a file it reads only at start changed (the restart marker the
# install script leaves), then waits until it runs a new invocation (when it was started) and the ready
# command succeeds. Sets unit_action to start, restart or nothing.
unit_start() {
  local unit=$1 marker=$2 seconds=$3 what=$4 before deadline
  shift 4
  systemctl enable --quiet "$unit"
  before=$(unit_invocation "$unit")
  unit_action=""
  if ! systemctl is-active --quiet "$unit"; then
    unit_action=start
  elif [[ -e $marker ]]; then
    unit_action=restart
  fi
  if [[ -n $unit_action ]]; then
    # Nothing waits on the job: starting containerd starts the host's container mounts first, which
    # re-executes systemd in a system container (lab/images/image.sh) and would cut a waiting client's
    # D-Bus connection. The loop below waits.
    systemctl "$unit_action" --no-block "$unit"
    # It starts with the files as they are now: no restart is due for them.
    rm -f "$marker"
  fi
  deadline=$((SECONDS + seconds))
  until [[ -z $unit_action || $(unit_invocation "$unit") != "$before" ]] && systemctl is-active --quiet "$unit" &&
    "$@"; do
    if ((SECONDS >= deadline)); then
      printf '%s was not ready within %ss (journalctl -u %s)\n' "$what" "$seconds" "$unit" >&2
      return 1
    fi
    sleep 0.5
  done
}

# record_config <file> <hash>: which configuration the service runs, for people.
record_config() {
  mkdir -p "${1%/*}"
  printf '%s\n' "$2" >"$1"
}
