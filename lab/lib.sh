# shellcheck shell=bash
# What the lab scripts share, sourced by the two lab drivers (lab/drivers/: machines.sh, vagrant.sh), by
# the builders of what they boot (lab/images/: image.sh, vagrant-box.sh) and by ./rwk. One copy because
# the scripts must agree: the drivers keep their labs in one state tree and allocate addresses and ports
# under one lock from one range; all four find the same cache. Functions only: sourcing it does nothing.
# The sourcing script runs under `set -euo pipefail` and defines say (its own log prefix), which die uses.
# A driver's "current host" is the globals use_lab and the driver's use_host set (LAB, LAB_DIR, SWITCH,
# subnet, gateway; HOST, DIR).

die() { say "ERROR: $*"; exit 1; }

# --- where things are kept ------------------------------------------------------------------------------
labs_root() { printf '%s/labs\n' "${RWK_STATE:-/var/lib/real-world-kubernetes}"; }

cache_root() { printf '%s\n' "${RWK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/real-world-kubernetes}"; }

# --- workstation -----------------------------------------------------------------------------------------
# Installs whichever of the given packages are missing; apt-get update only runs when something is
# missing, so a second run costs one dpkg-query call.
ensure_workstation_packages() {
  local missing=() p status name
  local -A installed=()
  while read -r status name; do
    [[ $status == installed ]] && installed[$name]=1
  done < <(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "$@" 2>/dev/null)
  for p in "$@"; do [[ -n ${installed[$p]:-} ]] || missing+=("$p"); done
  ((${#missing[@]} == 0)) && return
  say "installing on the workstation: ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Unmounts whatever a build left mounted under a half-built tree (debootstrap does), then deletes it.
# --one-file-system keeps rm from ever descending into a mount that could not be removed.
discard_tree() {
  local dir=$1 m
  [[ -e $dir ]] || return 0
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r)
  rm -rf --one-file-system "$dir"
}

# --- labs and hosts --------------------------------------------------------------------------------------
check_lab_name() {
  [[ $1 =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ && ${#1} -le 32 ]] ||
    die "lab name '$1': want 1-32 chars of [a-z0-9-], not starting or ending with '-'"
}

# Hosts are named like hostnames; <lab>-<host> names the host's machine, netns or domain and must stay
# <= 64 chars; "sw" would collide with the switch's netns.
check_host_name() {
  [[ $1 =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ && ${#1} -le 31 && $1 != sw ]] ||
    die "host name '$1': want 1-31 chars of [a-z0-9-], not starting or ending with '-', not 'sw'"
}

# Sets the names everything about a lab is found by. The subnet (a /24) is chosen at switch-up and kept
# in the lab's state dir; until then it is the workshop's.
use_lab() {
  check_lab_name "$1"
  LAB=$1
  LAB_DIR=$(labs_root)/$LAB
  SWITCH=$LAB-sw
  subnet=172.17.8
  [[ -f $LAB_DIR/subnet ]] && subnet=$(<"$LAB_DIR/subnet")
  gateway=$subnet.1
}

# Takes switch-up's <a.b.c.0/24> as the lab's subnet; a lab keeps the subnet it has.
choose_subnet() {
  [[ $1 =~ ^([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})\.0/24$ ]] || die "subnet '$1': want a.b.c.0/24"
  [[ ! -f $LAB_DIR/subnet || $(<"$LAB_DIR/subnet") == "${BASH_REMATCH[1]}" ]] ||
    die "lab $LAB already uses subnet $(<"$LAB_DIR/subnet").0/24"
  subnet=${BASH_REMATCH[1]}
  gateway=$subnet.1
}

read_state() { [[ -f $DIR/$1 ]] && printf '%s' "$(<"$DIR/$1")"; }

# The switch's netns with its loopback up, and the lab's state dir holding its subnet (switch-up).
switch_netns_up() {
  mkdir -p "$LAB_DIR"
  printf '%s\n' "$subnet" >"$LAB_DIR/subnet"
  [[ -e /run/netns/$SWITCH ]] || ip netns add "$SWITCH"
  ip -n "$SWITCH" link set lo up
}

# The lab's hosts: its state dir's subdirectories, but for the driver's own (named _*).
lab_hosts() {
  [[ -d $LAB_DIR ]] || return 0
  find "$LAB_DIR" -mindepth 1 -maxdepth 1 -type d ! -name '_*' -printf '%f\n' | sort
}

refuse_if_hosts() {
  local hosts=()
  mapfile -t hosts < <(lab_hosts)
  ((${#hosts[@]} == 0)) || die "lab $LAB still has hosts (${hosts[*]}): destroy them first"
}

# --- ownership -------------------------------------------------------------------------------------------
# A lab belongs to the one stack whose Switch made it (components/host/switch.ts): its owner token, and
# a line saying who holds it, are kept in $LAB_DIR/owner. Lab names follow stack names, so two checkouts
# of one stack (two state backends) want the same lab; switch-up being idempotent, the second used to
# record the first's switch as its own and its destroy deleted it. A caller without a token (plain
# scripts, tests, workstation/lab.ts removeLab as the last resort) owns nothing: its switch-up works only on
# a lab without owner, its switch-down removes any lab. Each driver calls these under its own lock.

check_owner() {
  [[ $1 =~ ^[A-Za-z0-9-]{1,64}$ ]] || die "owner token '$1': want 1-64 chars of [A-Za-z0-9-]"
}

check_owner_info() {
  [[ $1 != *[[:cntrl:]]* && ${#1} -le 500 ]] || die "owner info: want one line of at most 500 chars"
}

# Sets LAB_OWNER and LAB_OWNER_INFO ("" when the lab has no owner). Builtins only: switch-status reads it.
read_owner() {
  LAB_OWNER='' LAB_OWNER_INFO=''
  [[ -f $LAB_DIR/owner ]] || return 0
  { read -r LAB_OWNER && read -r LAB_OWNER_INFO; } <"$LAB_DIR/owner" || true
}

refuse_owned_by_another() {
  die "lab $LAB belongs to ${LAB_OWNER_INFO:-an owner that left no name} (owner token $LAB_OWNER)." \
    "A stack of the same name in another checkout? Rename this stack (its lab is named after it) or" \
    "destroy that one first. If that stack is gone for good: '$0 destroy $LAB <host>' for each host," \
    "then '$0 switch-down $LAB'."
}

# switch-up's check, before it makes anything: the lab must be new, the caller's own, or without owner.
# Without <adopt>, a lab without owner must also have no hosts (all a switch-up that failed before it
# recorded its owner leaves): one with hosts was made before labs had owners, or by a script, and only
# a stack whose state holds it takes it (switch-adopt).
refuse_foreign_lab() {
  local owner=$1 adopt=${2:-} hosts=()
  read_owner
  [[ $LAB_OWNER == "$owner" ]] && return 0
  [[ -z $LAB_OWNER ]] || refuse_owned_by_another
  [[ -z $adopt ]] || return 0
  mapfile -t hosts < <(lab_hosts)
  ((${#hosts[@]} == 0)) || die "lab $LAB has hosts (${hosts[*]}) and no owner: it was made before labs" \
    "had owners, or by a script, and is not taken over here (a stack that holds it in its state adopts it" \
    "at its next 'pulumi up')"
}

# Records <owner> (if any) and <info> as the lab's owner, once the switch is up.
claim_lab() {
  local owner=$1 info=$2
  [[ -n $owner && $LAB_OWNER != "$owner" ]] || return 0
  printf '%s\n%s\n' "$owner" "$info" >"$LAB_DIR/owner.tmp"
  mv "$LAB_DIR/owner.tmp" "$LAB_DIR/owner"
}

# switch-down's check: true if the caller may remove the lab. With a token that is not the lab's owner's
# the lab is left alone and the call succeeds: that caller's state holds a lab it never owned, and
# forgetting it is right, while failing would only keep that stack's destroy from ever finishing.
may_remove_lab() {
  local owner=$1
  [[ -n $owner ]] || return 0
  read_owner
  [[ $LAB_OWNER == "$owner" ]] && return 0
  [[ ! -d $LAB_DIR && ! -e /run/netns/$SWITCH ]] ||
    say "lab $LAB is not this caller's (owner: ${LAB_OWNER_INFO:-${LAB_OWNER:-none}}): left as it is"
  return 1
}

# switch-status of a lab whose switch is up: up, or, asked with <owner>, foreign if it is not that owner's.
up_or_foreign() {
  read_owner
  if [[ -n $1 && $LAB_OWNER != "$1" ]]; then echo foreign; else echo up; fi
}

# The verbs both drivers share; each driver has its own use_host and host_status.
cmd_list() {
  use_lab "$1"
  local host
  while read -r host; do
    [[ -n $host ]] || continue
    use_host "$LAB" "$host"
    # shellcheck disable=SC2153 # HOST is set by the driver's use_host
    printf '%s %s\n' "$HOST" "$(host_status)"
  done < <(lab_hosts)
}

cmd_exec() {
  use_lab "$1"
  shift
  (($#)) || usage
  [[ -e /run/netns/$SWITCH ]] || die "lab $LAB has no switch: run '$0 switch-up $LAB' first"
  exec ip netns exec "$SWITCH" "$@"
}

# ssh-keygen -l also accepts a private key, which must never land in authorized_keys.
check_pubkey() {
  [[ -r $1 ]] || die "public key file $1 is not readable"
  if grep -q 'PRIVATE KEY' "$1" || ! ssh-keygen -l -f "$1" >/dev/null 2>&1; then
    die "$1 is not an SSH public key"
  fi
}

# info's JSON, one shape for both drivers: the dynamic provider (components/host/machine.ts) reads it.
# <pid> is the host's main process (null unless running); <netns> is where its address answers.
info_json() {
  local status=$1 pid=$2 netns=$3 port mid addr
  port=$(read_state port) || port=null
  if mid=$(read_state machine-id); then mid="\"$mid\""; else mid=null; fi
  if addr=$(read_state address); then addr="\"$addr\""; else addr=null; fi
  printf '{"status":"%s","sshPort":%s,"machineId":%s,"address":%s,"netns":"%s","pid":%s}\n' \
    "$status" "$port" "$mid" "$addr" "$netns" "$pid"
}

# --- processes ---------------------------------------------------------------------------------------------
# True if <pid> is alive and one of its arguments equals <marker> (or, with a trailing *, starts with
# it): pid files outlive their processes and PIDs get reused, so a PID alone is never trusted. Builtins
# only (status must stay cheap).
pid_matches() {
  local pid=$1 marker=$2 args a
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  mapfile -d '' -t args 2>/dev/null </proc/"$pid"/cmdline || return 1
  for a in "${args[@]}"; do
    # shellcheck disable=SC2053  # the marker may be a glob on purpose
    [[ $a == $marker ]] && return 0
  done
  return 1
}

# Long-lived children (nspawn, daemons, socat) keep no descriptor but stdio: not our locks (they would be
# held as long as the child runs) and nothing the caller left open (a pipe would keep the caller waiting).
close_inherited_fds() {
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd=${fd##*/}
    if ((fd > 2)); then exec {fd}>&-; fi
  done
}

# --- allocation ----------------------------------------------------------------------------------------
# One lock for both drivers covers allocations (addresses, ports, the set of hosts of a lab). It is
# taken after the driver's own lock. The lock file stays.
lock_alloc() {
  local root
  root=$(labs_root)
  mkdir -p "$root"
  exec {ALLOC_LOCK_FD}>"$root/.alloc.lock"
  flock "$ALLOC_LOCK_FD"
}
unlock_alloc() { exec {ALLOC_LOCK_FD}>&-; ALLOC_LOCK_FD=; }

check_address() {
  local addr=$1 last other
  [[ $addr =~ ^${subnet//./\\.}\.([0-9]{1,3})$ ]] || die "address '$addr': want $subnet.N"
  last=${BASH_REMATCH[1]}
  ((10#$last >= 2 && 10#$last <= 254)) || die "address '$addr': N must be 2..254 ($gateway is the switch)"
  for other in "$LAB_DIR"/*/address; do
    # A lab forward (_forward-*) leads to an address; it holds none.
    [[ $other == "$LAB_DIR"/_* ]] && continue
    [[ -f $other && $(<"$other") == "$addr" ]] &&
      die "address $addr is already used by host $(basename "$(dirname "$other")") of lab $LAB"
  done
  return 0
}

# The port is chosen once, at create, and kept for the host's life so the engine's connection details
# survive stop/start: the wanted one if it is free, else, from a hash of lab/host, the first port that
# no listener and no other host of any lab (of either driver, running or stopped) holds. Ports are taken
# below the kernel's ephemeral range (32768+), so outgoing connections never hold one that a stopped
# host will want back.
allocate_port() {
  local wanted=${1:-} base=20000 span=10000 offset taken p i
  taken=$(
    cat "$(labs_root)"/*/*/port 2>/dev/null || true
    ss -Hltn | awk '{ n = split($4, a, ":"); print a[n] }'
  )
  # A host that comes back (destroyed, then running) keeps its port, so connections to it stay the same.
  if [[ -n $wanted ]] && ! grep -qx "$wanted" <<<"$taken"; then
    echo "$wanted"
    return
  fi
  offset=$((16#$(printf '%s/%s' "$LAB" "$HOST" | sha256sum | cut -c1-4) % span))
  for ((i = 0; i < span; i++)); do
    p=$((base + (offset + i) % span))
    grep -qx "$p" <<<"$taken" || { echo "$p"; return; }
  done
  die "no free port in $base..$((base + span - 1))"
}

# --- SSH forward -----------------------------------------------------------------------------------------
forward_marker() { printf 'TCP-LISTEN:%s,bind=127.0.0.1,fork,reuseaddr' "$(read_state port)"; }

# Launches the SSH forward for the engine, which runs in the root netns, detached from the caller; $! is
# its PID, which the caller waits for. It connects through the switch netns to <addr>:22, i.e. the way
# any machine on the lab network would: a cut or stopped host is unreachable for the engine too, as it
# would be in a real data centre. One `ip netns exec` per connection costs milliseconds; connect-timeout
# bounds how long a connection to a cut host hangs before it is closed.
launch_forward() {
  local addr
  addr=$(read_state address)
  (
    close_inherited_fds
    exec setsid socat "$(forward_marker)" \
      "EXEC:ip netns exec $SWITCH socat STDIO TCP\\:$addr\\:$(read_state remote_port || echo 22)\\,connect-timeout=5"
  ) </dev/null >>"$DIR/forward.log" 2>&1 &
  printf '%s\n' "$!" >"$DIR/forward.pid"
  # Not a job of the script: a kill during a failed create must not be reported as one.
  disown
}

# Replaces whatever forward the host had (a stale pid file, a socat left running) and waits until the
# new one runs.
start_forward() {
  stop_forward
  launch_forward
  await_exec "$!" "$(forward_marker)" forward.log
}

# Waits until a launched subshell has exec'd its program, so status never sees it half started.
await_exec() {
  local pid=$1 marker=$2 log=$3 i
  for i in {1..200}; do
    pid_matches "$pid" "$marker" && return 0
    [[ -e /proc/$pid ]] || break
    sleep 0.01
  done
  tail -n 20 "$DIR/$log" >&2
  die "$log: process $pid did not start (log: $DIR/$log)"
}

# Kills the recorded forwarder and its process group (setsid made it a group leader): the group holds
# the per-connection children too, so no open session keeps the port.
stop_forward() {
  local pid
  pid=$(read_state forward.pid) || return 0
  if pid_matches "$pid" "$(forward_marker)"; then kill -TERM -- "-$pid" 2>/dev/null || true; fi
  rm -f "$DIR/forward.pid"
}

# --- forwards to lab addresses ---------------------------------------------------------------------------
# A lab forward: 127.0.0.1:<port> on the workstation to <addr>:<remote port> on the lab network, through
# the switch netns like a host's SSH forward, for a service the workstation uses (the API server, for
# kubectl and the engine's Kubernetes provider). It belongs to the lab, not to a host: a host that is down
# makes it refuse connections, as a real address would. Kept in $LAB_DIR/_forward-<name>/ (address
# remote_port port forward.pid forward.log), which lab_hosts skips; switch-down stops them all.
#   forward-up <lab> <name> <addr> <remote port> [<port>]   start it unless it runs; print its port
#   forward-down <lab> <name>                               stop it and forget it
#   forward-status <lab> <name>                             up | down
use_forward() {
  use_lab "$1"
  check_host_name "$2"
  HOST=_forward-$2
  DIR=$LAB_DIR/$HOST
}

forward_runs() { pid_matches "$(read_state forward.pid)" "$(forward_marker)"; }

cmd_forward_up() {
  local addr=$3 remote=$4 wanted=${5:-} port
  use_forward "$1" "$2"
  [[ $addr =~ ^${subnet//./\\.}\.[0-9]{1,3}$ ]] || die "address '$addr': want an address of the lab, $subnet.N"
  [[ $remote =~ ^[0-9]{1,5}$ && $remote -ge 1 && $remote -le 65535 ]] || die "port '$remote': want 1..65535"
  [[ -z $wanted || $wanted =~ ^[0-9]{1,5}$ ]] || die "local port '$wanted': want a number"
  [[ -e /run/netns/$SWITCH ]] || die "lab $LAB has no switch (switch-up first)"
  lock_alloc
  if [[ $(read_state address) == "$addr" && $(read_state remote_port) == "$remote" ]] && forward_runs; then
    read_state port
    echo
    return
  fi
  stop_forward
  mkdir -p "$DIR"
  port=$(read_state port) || port=
  rm -f "$DIR/port"
  port=$(allocate_port "${wanted:-$port}")
  printf '%s\n' "$addr" >"$DIR/address"
  printf '%s\n' "$remote" >"$DIR/remote_port"
  printf '%s\n' "$port" >"$DIR/port"
  unlock_alloc
  start_forward
  printf '%s\n' "$port"
}

cmd_forward_down() {
  use_forward "$1" "$2"
  [[ -d $DIR ]] || return 0
  stop_forward
  rm -rf "$DIR"
}

cmd_forward_status() {
  use_forward "$1" "$2"
  if [[ -d $DIR ]] && forward_runs; then echo up; else echo down; fi
}

# Stops every forward of the lab (switch-down: nothing of a lab outlives it).
stop_lab_forwards() {
  local d
  for d in "$LAB_DIR"/_forward-*; do
    [[ -d $d ]] || continue
    DIR=$d stop_forward
  done
}

# Prints the first line sshd sends, read through the forward: the path the engine will use.
ssh_banner() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    read -r -t 6 line <&3
    printf '%s' "$line"
  ) 2>/dev/null
}

# True once sshd answers through the forward on 127.0.0.1:<port>; the forward having exited is fatal.
sshd_answers() {
  local port=$1 banner
  pid_matches "$(read_state forward.pid)" "$(forward_marker)" ||
    die "the SSH forward on 127.0.0.1:$port exited (log: $DIR/forward.log)"
  banner=$(ssh_banner "$port") || true
  [[ $banner == SSH-* ]]
}
