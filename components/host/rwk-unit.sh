# shellcheck shell=bash
# Starting a service of ours one way on every host: the program renders these functions into the helpers
# that start services (rwk-runtime: containerd; rwk-kube: the kubelet, kube-proxy), after their facts.
# The helpers define log.

unit_invocation() { systemctl show --property InvocationID --value "$1" 2>/dev/null || true; }

# unit_start <unit> <restart marker> <seconds> <what> <ready command...>: enables the unit, starts it if
# it is not running or restarts it when a file it reads only at start changed (the restart marker the
# install script leaves), then waits until it runs a new invocation (when it was started) and the ready
# command succeeds. Sets unit_action to start, restart or nothing.
unit_start() {
  # svc, not unit: a helper's facts may hold a readonly `unit` of their own (rwk-runtime's).
  local svc=$1 marker=$2 seconds=$3 what=$4 before deadline
  shift 4
  systemctl enable --quiet "$svc"
  before=$(unit_invocation "$svc")
  unit_action=""
  if ! systemctl is-active --quiet "$svc"; then
    unit_action=start
  elif [[ -e $marker ]]; then
    unit_action=restart
  fi
  if [[ -n $unit_action ]]; then
    # Nothing waits on the job: starting containerd starts the host's container mounts first, which
    # re-executes systemd in a system container (lab/images/image.sh) and would cut a waiting client's
    # D-Bus connection. The loop below waits.
    systemctl "$unit_action" --no-block "$svc"
    # It starts with the files as they are now: no restart is due for them.
    rm -f "$marker"
  fi
  deadline=$((SECONDS + seconds))
  until [[ -z $unit_action || $(unit_invocation "$svc") != "$before" ]] && systemctl is-active --quiet "$svc" &&
    "$@"; do
    if ((SECONDS >= deadline)); then
      printf '%s was not ready within %ss (journalctl -u %s)\n' "$what" "$seconds" "$svc" >&2
      return 1
    fi
    sleep 0.5
  done
}

# start_command <command> <label> <unit> <restart marker> <applied file> <seconds> <what> <ready command>
# <state> [--config H]: a helper's start command, written once: starts or restarts the unit (unit_start),
# records the configuration hash H it runs, and says what it did ("<label> started and <state>").
start_command() {
  local command=$1 label=$2 svc=$3 marker=$4 applied=$5 seconds=$6 what=$7 ready=$8 state=$9 config=""
  shift 9
  while (($#)); do
    case $1 in
      --config) config=$2; shift 2 ;;
      *) log "$command: unknown argument $1"; exit 1 ;;
    esac
  done
  # Units and drop-ins are files of ours: systemd reads them again before anything starts.
  systemctl daemon-reload
  unit_start "$svc" "$marker" "$seconds" "$what" "$ready" || exit 1
  [[ -z $config ]] || record_config "$applied" "$config"
  log "$label ${unit_action:+${unit_action}ed and }$state${config:+ with configuration $config}"
}

# record_config <file> <hash>: which configuration the service runs, for people.
record_config() {
  mkdir -p "${1%/*}"
  printf '%s\n' "$2" >"$1"
}
