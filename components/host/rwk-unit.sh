# shellcheck shell=bash
# Asking systemd, and starting a service of ours, one way on every host: the program renders these
# functions into the helpers that start services (rwk-runtime: containerd; rwk-kube: the kubelet,
# kube-proxy; rwk-etcd: etcd), after their facts. The helpers define log.
#
# Every call to systemd here is asked again when it is cut off, within a bound: a lab host's systemd
# re-executes itself once containerd's prerequisites ran (lab/images/image.sh), and another helper's
# daemon-reload may fall at the same moment; either cuts a client's call off ("Message recipient
# disconnected from message bus without replying"). A query cut off is no answer: a CI run once read it
# as "etcd is not running" and refused a restart that was not due.

unit_bound=30

# retry <seconds> <what> <command...>: runs the command until it succeeds and prints its output; after
# <seconds> the helper ends saying what did not succeed and what the command said last.
retry() {
  local bound=$1 what=$2 deadline=$((SECONDS + $1)) out
  shift 2
  until out=$("$@" 2>&1); do
    if ((SECONDS >= deadline)); then
      log "$what did not succeed within ${bound}s: $out"
      exit 1
    fi
    sleep 1
  done
  printf '%s\n' "$out"
}

# unit_ctl <systemctl arguments...>: systemctl, asked again until it succeeds (within unit_bound seconds),
# its output dropped.
unit_ctl() { retry "$unit_bound" "systemctl $*" systemctl "$@" >/dev/null; }

# unit_show <unit> <property>: sets unit_shown to the unit's property as systemd tells it (ActiveState
# inactive, LoadState not-found for a unit that is not there).
unit_show() {
  local out deadline=$((SECONDS + unit_bound))
  # Its value is what it prints, never what it says on stderr; that is asked once more to say why.
  until out=$(systemctl show --property "$2" --value "$1" 2>/dev/null); do
    if ((SECONDS >= deadline)); then
      log "systemd did not tell $1's $2 within ${unit_bound}s: $(systemctl show --property "$2" --value "$1" 2>&1 >/dev/null)"
      exit 1
    fi
    sleep 1
  done
  unit_shown=$out
}

# unit_active <unit>: the unit runs (systemd says active).
unit_active() {
  unit_show "$1" ActiveState
  [[ $unit_shown == active ]]
}

# unit_halt <unit>: stops the unit and returns once systemd says it is stopped (a unit that is not there
# is): what follows may remove the files it runs on.
unit_halt() {
  local deadline=$((SECONDS + unit_bound))
  until
    systemctl stop "$1" >/dev/null 2>&1 || true
    unit_show "$1" ActiveState
    [[ $unit_shown =~ ^(inactive|failed)$ ]]
  do
    if ((SECONDS >= deadline)); then
      log "$1 did not stop within ${unit_bound}s (systemd says $unit_shown)"
      exit 1
    fi
    sleep 1
  done
}

# unit_retire <unit>: disabled and halted, so that it stays stopped across boots; a unit that is not
# there already is.
unit_retire() {
  unit_show "$1" LoadState
  [[ $unit_shown == not-found ]] || unit_ctl disable --quiet "$1"
  unit_halt "$1"
}

# unit_new_invocation <unit> <invocation>: the unit runs another invocation than the one given (or runs
# none at all and had one).
unit_new_invocation() {
  unit_show "$1" InvocationID
  [[ $unit_shown != "$2" ]]
}

# unit_start <unit> <restart marker> <seconds> <what> <ready command...>: enables the unit, starts it if
# it is not running or restarts it when a file it reads only at start changed (the restart marker the
# install script leaves), then waits until it runs a new invocation (when it was started) and the ready
# command succeeds. Sets unit_action to start, restart or nothing.
unit_start() {
  # svc, not unit: a helper's facts may hold a readonly `unit` of their own (rwk-runtime's).
  local svc=$1 marker=$2 seconds=$3 what=$4 before deadline
  shift 4
  unit_ctl enable --quiet "$svc"
  unit_show "$svc" InvocationID
  before=$unit_shown
  unit_action=""
  if ! unit_active "$svc"; then
    unit_action=start
  elif [[ -e $marker ]]; then
    unit_action=restart
  fi
  if [[ -n $unit_action ]]; then
    # Nothing waits on the job: starting containerd starts the host's container mounts first, which
    # re-executes systemd in a system container (lab/images/image.sh) and would cut a waiting client's
    # D-Bus connection. The loop below waits.
    unit_ctl "$unit_action" --no-block "$svc"
    # It starts with the files as they are now: no restart is due for them.
    rm -f "$marker"
  fi
  deadline=$((SECONDS + seconds))
  until { [[ -z $unit_action ]] || unit_new_invocation "$svc" "$before"; } && unit_active "$svc" &&
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
  unit_ctl daemon-reload
  unit_start "$svc" "$marker" "$seconds" "$what" "$ready" || exit 1
  [[ -z $config ]] || record_config "$applied" "$config"
  log "$label ${unit_action:+${unit_action}ed and }$state${config:+ with configuration $config}"
}

# record_config <file> <hash>: which configuration the service runs, for people.
record_config() {
  mkdir -p "${1%/*}"
  printf '%s\n' "$2" >"$1"
}
