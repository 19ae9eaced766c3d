#!/usr/bin/env bash
# The `machines` lab driver: Debian system containers (systemd-nspawn) as lab hosts, one command per
# host life event. Facts behind the choices are in shared LAB.md.
#
#   machines.sh switch-up   <lab> [<a.b.c.0/24>]               the lab's network: netns <lab>-sw, bridge br0
#   machines.sh switch-down <lab>                              delete it (refused while hosts exist)
#   machines.sh switch-status <lab>                            up | down
#   machines.sh create  <lab> <host> <addr> <pubkey-file> [<port>]
#                                                              new host with a new identity; boot; wait for sshd
#                                                              (<port>: reuse this SSH forward port if free)
#   machines.sh start   <lab> <host>                           boot a stopped host, disk kept; wait for sshd
#   machines.sh stop    <lab> <host>                           graceful poweroff, NIC off; disk and netns kept
#   machines.sh destroy <lab> <host>                           kill, delete disk, netns and forward
#   machines.sh status  <lab> <host>                           running | stopped | absent
#   machines.sh info    <lab> <host>                           JSON: status, sshPort, machineId, address, netns, pid
#   machines.sh kill    <lab> <host>                           SIGKILL everything of the host, NIC off (failure injection)
#   machines.sh cut|heal <lab> <host>                          take the host's link on the switch down/up
#   machines.sh exec    <lab> <cmd...>                         run a command in the lab's switch netns
#   machines.sh list    <lab>                                  "<host> <status>", one per line
#
# Layout. Nothing is added to the root netns but the 127.0.0.1 SSH forwards, so labs can run side by
# side with the same host names and addresses:
#   netns <lab>-sw      br0 172.17.8.1/24, one veth per host (rwk<hash>, so cut/heal can find it)
#   netns <lab>-<host>  eth0 <addr>/24, default via 172.17.8.1; nspawn joins it
#   $RWK_STATE/labs/<lab>/<host>/
#       upper/ work/ merged/   the host's disk: an overlay on the image from lab/image.sh
#       image address port machine-id identity cgroups nspawn.pid forward.pid nspawn.log forward.log
#   cgroup <lab>/<host> under the caller's own cgroup in every mounted hierarchy
#
# Environment: RWK_STATE (default /var/lib/real-world-kubernetes), RWK_SSH_WAIT (seconds, default 60),
# RWK_STOP_WAIT (seconds before a stop turns into a kill, default 30).
set -euo pipefail
# shellcheck source=lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ssh_wait=${RWK_SSH_WAIT:-60}
stop_wait=${RWK_STOP_WAIT:-30}

say() { printf '[machines] %s\n' "$*" >&2; }

usage() {
  { echo usage:; sed -n 's/^#   machines.sh/  machines.sh/p' "${BASH_SOURCE[0]}"; } >&2
  exit 2
}

# Sets the names everything about one host is found by. Spawns no process: status must stay cheap.
use_host() {
  use_lab "$1"
  check_host_name "$2"
  HOST=$2
  DIR=$LAB_DIR/$HOST
  NETNS=$LAB-$HOST
  # Unique across labs: with --register=no nspawn still keys /run/systemd/nspawn/propagate/ on it.
  MACHINE=$LAB-$HOST
}

# Interface names are limited to 15 chars; the switch-side veth is named from a hash of lab and host.
veth_name() { printf 'rwk%s' "$(printf '%s/%s' "$LAB" "$HOST" | sha256sum | cut -c1-10)"; }

nspawn_marker() { printf -- '--machine=%s' "$MACHINE"; }

host_status() {
  if [[ ! -d $DIR/upper ]]; then
    echo absent
  elif pid_matches "$(read_state nspawn.pid)" "$(nspawn_marker)"; then
    echo running
  else
    echo stopped
  fi
}

require_host() { [[ $(host_status) != absent ]] || die "host $HOST of lab $LAB does not exist"; }
require_switch() { [[ -e /run/netns/$SWITCH ]] || die "lab $LAB has no switch: run '$0 switch-up $LAB' first"; }

# --- locking -----------------------------------------------------------------------------------------
# A Pulumi update creates, starts and stops hosts in parallel. One lock per host serialises its life
# events; the allocation lock (lib.sh) is taken after it. Host lock files stay; switch-down deletes a
# lab's.
HOST_LOCK_FD=

lock_host() { mkdir -p "$LAB_DIR"; exec {HOST_LOCK_FD}>"$LAB_DIR/.$HOST.lock"; flock "$HOST_LOCK_FD"; }

# --- network -----------------------------------------------------------------------------------------
cmd_switch_up() {
  use_lab "$1"
  if (($# > 1)); then choose_subnet "$2"; fi
  switch_netns_up
  ip -n "$SWITCH" link show br0 &>/dev/null || ip -n "$SWITCH" link add br0 type bridge
  ip -n "$SWITCH" addr replace "$gateway/24" dev br0
  ip -n "$SWITCH" link set br0 up
}

cmd_switch_down() {
  use_lab "$1"
  lock_alloc
  refuse_if_hosts
  if [[ -e /run/netns/$SWITCH ]]; then ip netns del "$SWITCH"; fi
  rm -rf "$LAB_DIR"
}

# The MAC of eth0 follows from lab and address, so a host recreated on an address (or whose veth is
# rebuilt) answers to the MAC that the other hosts and the switch still have in their ARP caches;
# with a random one they keep sending to the old MAC for up to ~20 s. 02: is locally administered.
mac_for() { printf '%s/%s' "$LAB" "$1" | sha256sum | sed -E 's/^(..)(..)(..)(..)(..).*/02:\1:\2:\3:\4:\5/'; }

# Idempotent: after a workstation restart /run/netns is empty and start rebuilds the host's network.
ensure_host_netns() {
  local addr veth
  addr=$(read_state address)
  veth=$(veth_name)
  [[ -e /run/netns/$NETNS ]] || ip netns add "$NETNS"
  if ! ip -n "$NETNS" link show eth0 &>/dev/null; then
    ip -n "$SWITCH" link del "$veth" 2>/dev/null || true
    ip -n "$SWITCH" link add "$veth" type veth peer name eth0 address "$(mac_for "$addr")" netns "$NETNS"
  fi
  ip -n "$SWITCH" link set "$veth" master br0 up
  ip -n "$NETNS" link set lo up
  ip -n "$NETNS" addr replace "$addr/24" dev eth0
  ip -n "$NETNS" link set eth0 up
  ip -n "$NETNS" route replace default via "$gateway"
}

delete_host_netns() {
  if [[ -e /run/netns/$NETNS ]]; then ip netns del "$NETNS"; fi
  # Deleting the netns deletes eth0 and with it the peer; this covers a netns that was already gone.
  if [[ -e /run/netns/$SWITCH ]]; then ip -n "$SWITCH" link del "$(veth_name)" 2>/dev/null || true; fi
}

# A host that is not running must not answer on the network at all (not even ping or a TCP reset from
# the kernel of its netns), as a powered-off machine would not; boot brings eth0 back up.
nic_off() { ip -n "$NETNS" link set eth0 down 2>/dev/null || true; }

set_link() {
  require_host
  require_switch
  ip -n "$SWITCH" link set "$(veth_name)" "$1"
}

# --- disk and identity -----------------------------------------------------------------------------------
ensure_mounted() {
  mountpoint -q "$DIR/merged" && return
  local image
  image=$(read_state image)
  [[ -d $image ]] || die "image $image of host $HOST is gone (was the cache deleted?); destroy and recreate the host"
  mount -t overlay "rwk-$MACHINE" -o "lowerdir=$image,upperdir=$DIR/upper,workdir=$DIR/work" "$DIR/merged"
}

unmount_disk() {
  local i
  for i in {1..50}; do
    mountpoint -q "$DIR/merged" || return 0
    umount "$DIR/merged" 2>/dev/null || sleep 0.1
  done
  die "cannot unmount $DIR/merged: still busy after 5 s"
}

# Gives a fresh host its own identity, written through the mounted overlay before first boot (never
# into upper/ while mounted). Writing machine-id ourselves also means systemd does not treat the boot as
# a first boot, so it applies no presets that would re-enable etcd.
write_identity() {
  local merged=$DIR/merged pubkey=$1 id
  id=$(tr -d - </proc/sys/kernel/random/uuid)
  printf '%s\n' "$id" >"$merged/etc/machine-id"
  printf '%s\n' "$id" >"$DIR/machine-id"
  printf '%s\n' "$HOST" >"$merged/etc/hostname"
  printf '%s\t%s\n' "$(read_state address)" "$HOST" >>"$merged/etc/hosts"
  install -d -m 0700 "$merged/root/.ssh"
  install -m 0600 "$pubkey" "$merged/root/.ssh/authorized_keys"
  ssh-keygen -q -A -f "$merged" >/dev/null
  # Marks the identity complete: start refuses a host whose create was interrupted before this.
  : >"$DIR/identity"
}

# --- processes ---------------------------------------------------------------------------------------------
# Prints the mount point of the cgroup hierarchy named by a /proc/self/cgroup controller field
# ("" is cgroup2; otherwise every listed controller must be among the mount's options).
cgroup_mount() {
  local want=$1 target fstype opts ctrl ok
  while read -r target fstype opts; do
    if [[ -z $want ]]; then
      [[ $fstype == cgroup2 ]] && { printf '%s\n' "$target"; return; }
      continue
    fi
    [[ $fstype == cgroup ]] || continue
    ok=true
    for ctrl in ${want//,/ }; do [[ ,$opts, == *",$ctrl,"* ]] || ok=false; done
    $ok && { printf '%s\n' "$target"; return; }
  done < <(findmnt -rn -t cgroup,cgroup2 -o TARGET,FSTYPE,OPTIONS)
  return 1
}

# Makes a cgroup and its missing parents. A new cpuset cgroup has no CPUs and no memory nodes and no
# process can join it, so those are copied from the parent.
make_cgroup() {
  local dir=$1 parent=${1%/*}
  if [[ ! -d $dir ]]; then
    make_cgroup "$parent"
    # Hosts of one lab are created in parallel and share the lab's cgroup: whoever comes second finds it.
    mkdir "$dir" 2>/dev/null || [[ -d $dir ]] || die "cannot create cgroup $dir"
  fi
  # A new v1 cpuset cgroup has no CPUs and no memory nodes, and refuses processes (ENOSPC) until it gets
  # some. Checked even when the cgroup exists: the host that created the lab's level may not have filled
  # it in yet when a parallel one finds it (a CI run failed on exactly that).
  if [[ -f $dir/cpuset.cpus ]] && [[ -z $(<"$dir/cpuset.cpus") || -z $(<"$dir/cpuset.mems") ]]; then
    cat "$parent/cpuset.cpus" >"$dir/cpuset.cpus"
    cat "$parent/cpuset.mems" >"$dir/cpuset.mems"
  fi
}

# Creates the host's cgroup in every hierarchy (all v1 controllers, name=systemd and cgroup2), under the
# caller's own cgroup there so the host stays inside whatever accounts for the caller, and records
# them: without a cgroup of its own nspawn puts every container in the same /payload at the root, and
# containerd inside needs a child in every v1 controller (LAB.md).
make_host_cgroups() {
  local ctrls path mount
  : >"$DIR/cgroups"
  while IFS=: read -r _ ctrls path; do
    mount=$(cgroup_mount "$ctrls") || continue
    make_cgroup "$mount${path%/}/$LAB/$HOST"
    printf '%s\n' "$mount${path%/}/$LAB/$HOST" >>"$DIR/cgroups"
  done </proc/self/cgroup
}

cgroup_pids() {
  [[ -f $DIR/cgroups ]] || return 0
  local dirs
  mapfile -t dirs <"$DIR/cgroups"
  find "${dirs[@]}" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u
}

# SIGKILLs every process in the host's cgroups (nspawn, the container's init and all it started) and
# waits, bounded, until none is left. Repeated because a dying tree may still fork.
kill_cgroup() {
  local pids deadline=$((SECONDS + 10))
  while pids=$(cgroup_pids) && [[ -n $pids ]]; do
    ((SECONDS < deadline)) || die "processes of $LAB/$HOST survived SIGKILL: $(echo "$pids" | tr '\n' ' ')"
    # shellcheck disable=SC2086  # one PID per word
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
}

remove_cgroups() {
  [[ -f $DIR/cgroups ]] || return 0
  local dir
  while read -r dir; do
    [[ -d $dir ]] && find "$dir" -depth -type d -exec rmdir {} +
    # The lab's level goes with its last host.
    rmdir "${dir%/*}" 2>/dev/null || true
  done <"$DIR/cgroups"
  rm -f "$DIR/cgroups"
}

# Boots the host, detached from the caller: its own session (setsid) so it outlives the calling
# process, stdin from /dev/null and output to a log so it holds none of the caller's pipes (a Node
# child_process call would otherwise wait for nspawn to exit). The subshell joins the host's cgroups
# before it execs setsid, which execs nspawn in place (not a group leader, so no fork): $! is nspawn.
launch_nspawn() {
  make_host_cgroups
  (
    close_inherited_fds
    while read -r dir; do printf '%s\n' "$BASHPID" >"$dir/cgroup.procs"; done <"$DIR/cgroups"
    exec setsid systemd-nspawn \
      --bind=/dev/kmsg \
      --boot \
      --capability=CAP_NET_ADMIN,CAP_SYSLOG \
      --console=read-only \
      --directory="$DIR/merged" \
      --hostname="$HOST" \
      --keep-unit \
      "$(nspawn_marker)" \
      --network-namespace-path="/run/netns/$NETNS" \
      --register=no \
      --system-call-filter=@keyring
  ) </dev/null >>"$DIR/nspawn.log" 2>&1 &
  printf '%s\n' "$!" >"$DIR/nspawn.pid"
  # Not a job of this script: a kill during a failed create must not be reported as one.
  disown
  await_exec "$!" "$(nspawn_marker)" nspawn.log
}

# The forward reaches the host the way the lab network does, while the host's own netns stays untouched.
wait_for_ssh() {
  local port deadline=$((SECONDS + ssh_wait))
  port=$(read_state port)
  while ((SECONDS < deadline)); do
    if [[ $(host_status) != running ]]; then
      tail -n 30 "$DIR/nspawn.log" >&2
      die "host $HOST of lab $LAB stopped while booting (log: $DIR/nspawn.log)"
    fi
    sshd_answers "$port" && return 0
    sleep 0.2
  done
  tail -n 30 "$DIR/nspawn.log" >&2
  die "sshd of $HOST (lab $LAB) did not answer on 127.0.0.1:$port within $ssh_wait s (log: $DIR/nspawn.log)"
}

# Everything a stopped host does not keep: processes, forward, mount, cgroups. Disk and netns stay.
teardown_runtime() {
  kill_cgroup
  stop_forward
  unmount_disk
  remove_cgroups
  rm -f "$DIR/nspawn.pid"
  # nspawn deletes its propagation dir only on a clean exit, and not even then when /run is not a tmpfs.
  rm -rf "/run/systemd/nspawn/propagate/$MACHINE"
}

# Boots an existing host (after create, start, or a kill) and waits for sshd.
boot() {
  require_switch
  ensure_host_netns
  ensure_mounted
  # Leftovers of a kill: an empty cgroup tree (recreated from scratch) and the forward (start_forward
  # replaces it).
  kill_cgroup
  remove_cgroups
  launch_nspawn
  start_forward
  wait_for_ssh
}

# --- commands ----------------------------------------------------------------------------------------------
cmd_create() {
  local addr=$3 pubkey=$4 port=${5:-} image
  use_host "$1" "$2"
  check_pubkey "$pubkey"
  # Checked again under the allocation lock; this early check only keeps a typo from leaving a lab dir.
  require_switch
  image=$("$here/image.sh" --print)
  lock_host
  [[ $(host_status) == absent ]] || die "host $HOST of lab $LAB already exists (destroy it first)"
  [[ ! -e /run/netns/$NETNS ]] || die "netns $NETNS exists but belongs to no host of lab $LAB; delete it first"
  # Checked under the allocation lock, which switch-down holds while it makes sure the lab is empty.
  lock_alloc
  require_switch
  check_address "$addr"
  mkdir -p "$DIR/upper" "$DIR/work" "$DIR/merged"
  # All or nothing: a create that fails leaves no host behind, so the caller can simply retry.
  trap 'rollback_create' EXIT
  printf '%s\n' "$image" >"$DIR/image"
  printf '%s\n' "$addr" >"$DIR/address"
  [[ -z $port || $port =~ ^[0-9]+$ ]] || die "port '$port': want a number"
  allocate_port "$port" >"$DIR/port"
  unlock_alloc
  ensure_mounted
  write_identity "$pubkey"
  boot
  trap - EXIT
}

rollback_create() {
  local rc=$?
  say "create of $HOST (lab $LAB) failed; removing what it made"
  destroy_host || say "cleanup after the failed create was incomplete: run '$0 destroy $LAB $HOST'"
  exit "$rc"
}

destroy_host() {
  teardown_runtime
  delete_host_netns
  ! mountpoint -q "$DIR/merged" || die "$DIR/merged is still mounted"
  rm -rf --one-file-system "$DIR"
}

cmd_start() {
  use_host "$1" "$2"
  require_host
  lock_host
  case $(host_status) in
    absent) die "host $HOST of lab $LAB does not exist" ;;
    running) wait_for_ssh ;;
    stopped)
      [[ -f $DIR/identity ]] || die "host $HOST of lab $LAB was never fully created: destroy and create it"
      boot
      ;;
  esac
}

cmd_stop() {
  use_host "$1" "$2"
  require_host
  lock_host
  local pid deadline=$((SECONDS + stop_wait))
  case $(host_status) in
    absent) die "host $HOST of lab $LAB does not exist" ;;
    running)
      # nspawn turns SIGTERM into SIGRTMIN+3 for the container's systemd: a clean poweroff.
      pid=$(read_state nspawn.pid)
      kill -TERM "$pid" 2>/dev/null || true
      while pid_matches "$pid" "$(nspawn_marker)" && ((SECONDS < deadline)); do sleep 0.1; done
      pid_matches "$pid" "$(nspawn_marker)" && say "host $HOST did not power off within $stop_wait s; killing it"
      ;;
  esac
  teardown_runtime
  nic_off
}

cmd_destroy() {
  use_host "$1" "$2"
  [[ -d $LAB_DIR ]] || return 0
  lock_host
  [[ -d $DIR ]] || return 0
  destroy_host
}

cmd_info() {
  use_host "$1" "$2"
  local status pid=null
  status=$(host_status)
  [[ $status == running ]] && pid=$(read_state nspawn.pid)
  info_json "$status" "$pid" "$NETNS"
}

cmd_kill() {
  use_host "$1" "$2"
  require_host
  kill_cgroup
  nic_off
}

main() {
  (($# >= 2)) || usage
  local cmd=$1
  shift
  ((EUID == 0)) || die "must run as root (netns, mounts, cgroups)"
  case $cmd in
    switch-up) (($# == 1 || $# == 2)) || usage; cmd_switch_up "$@" ;;
    switch-down) (($# == 1)) || usage; cmd_switch_down "$@" ;;
    switch-status) (($# == 1)) || usage; use_lab "$1"; [[ -e /run/netns/$SWITCH ]] && echo up || echo down ;;
    create) (($# == 4 || $# == 5)) || usage; cmd_create "$@" ;;
    start) (($# == 2)) || usage; cmd_start "$@" ;;
    stop) (($# == 2)) || usage; cmd_stop "$@" ;;
    destroy) (($# == 2)) || usage; cmd_destroy "$@" ;;
    status) (($# == 2)) || usage; use_host "$@"; host_status ;;
    info) (($# == 2)) || usage; cmd_info "$@" ;;
    kill) (($# == 2)) || usage; cmd_kill "$@" ;;
    cut) (($# == 2)) || usage; use_host "$@"; set_link down ;;
    heal) (($# == 2)) || usage; use_host "$@"; set_link up ;;
    exec) cmd_exec "$@" ;;
    list) (($# == 1)) || usage; cmd_list "$@" ;;
    *) usage ;;
  esac
}

main "$@"
