#!/usr/bin/env bash
# The `machines` lab driver: Debian system containers (systemd-nspawn) as lab hosts, one command per
# host life event.
#
#   machines.sh switch-up   <lab> [<a.b.c.0/24> [<owner> [<owner-info>]]]
#                                                              the lab's network: netns <lab>-sw, bridge br0;
#                                                              <owner> claims the lab (see lib.sh, ownership):
#                                                              refused if another owns it, or if it has
#                                                              hosts but no owner; <owner-info> names who
#   machines.sh switch-adopt <lab> <a.b.c.0/24> <owner> [<owner-info>]
#                                                              switch-up that also claims a lab with hosts
#                                                              but no owner (a stack's lab from before owners)
#   machines.sh switch-down <lab> [<owner>]                    delete it (refused while hosts exist); with
#                                                              <owner>, another's lab is left alone
#   machines.sh switch-status <lab> [<owner>]                  up | down; with <owner>, foreign for a lab
#                                                              that is up but not that owner's
#   machines.sh create  <lab> <host> <addr> <pubkey-file> [<port>]
#                                                              new host with a new identity; boot; wait for sshd
#                                                              (<port>: reuse this SSH forward port if free)
#   machines.sh start   <lab> <host>                           boot a stopped host, disk kept; wait for sshd
#   machines.sh stop    <lab> <host>                           graceful poweroff, NIC off; disk and netns kept
#   machines.sh destroy <lab> <host>                           kill, delete disk, netns and forward
#   machines.sh status  <lab> <host>                           running | stopped | absent (see "Status")
#   machines.sh info    <lab> <host>                           JSON: status, sshPort, machineId, address, netns, pid
#   machines.sh kill    <lab> <host>                           SIGKILL everything of the host, NIC off (failure injection)
#   machines.sh cut|heal <lab> <host>                          take the host's link on the switch down/up
#   machines.sh forward-up <lab> <name> <addr> <port> [<local>] 127.0.0.1:<local> to <addr>:<port> (lab/lib.sh)
#   machines.sh forward-down|forward-status <lab> <name>       stop it | up or down
#   machines.sh exec    <lab> <cmd...>                         run a command in the lab's switch netns
#   machines.sh list    <lab>                                  "<host> <status>", one per line
#
# Layout. Nothing is added to the root netns but the 127.0.0.1 SSH forwards, so labs can run side by
# side with the same host names and addresses:
#   netns <lab>-sw      br0 172.17.8.1/24, one veth per host (rwk<hash>, so cut/heal can find it)
#   netns <lab>-<host>  eth0 <addr>/24, default via 172.17.8.1; nspawn joins it
#   $RWK_STATE/labs/<lab>/        subnet, owner
#   $RWK_STATE/labs/<lab>/<host>/
#       upper/ work/ merged/   the host's disk: an overlay on the image from lab/images/image.sh
#       containerd/            the host's /var/lib/containerd (see host_binds)
#       image address port machine-id identity cgroups nspawn.pid init.pid forward.pid nspawn.log forward.log
#   cgroup <lab>/<host> under the caller's own cgroup in every mounted hierarchy
#
# Status. A host is running while its container lives: its init (the container's PID 1, its systemd,
# recorded in init.pid at boot with its start time, so a reused PID is never taken for it) or, until
# that is recorded, nspawn. nspawn only supervises: SIGKILLed, it leaves the container running and
# serving (systemd, sshd, etcd re-parented to PID 1), so such a host reads running, start just waits
# for its sshd, stop powers it off through its init with SIGRTMIN+3, as nspawn would have, and destroy
# kills it like any host. A host whose every process was killed (kill) reads stopped.
#
# Environment: RWK_STATE (default /var/lib/real-world-kubernetes), RWK_SSH_WAIT (seconds, default 60),
# RWK_STOP_WAIT (seconds before a stop turns into a kill, default 30).
set -euo pipefail
# shellcheck source=lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=lab/drivers/interface.sh
. "$(dirname "${BASH_SOURCE[0]}")/interface.sh"

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

# Sets PROC_START to the start time of <pid> (field 22 of its stat, after the command name, which may
# hold spaces), if it lives and is no zombie. With the PID it names one process: a PID is reused, the
# pair is not. Builtins only.
proc_start() {
  local stat fields
  PROC_START=''
  [[ $1 =~ ^[0-9]+$ ]] && read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  read -r -a fields <<<"${stat##*) }"
  [[ ${fields[0]} != [ZX] ]] || return 1
  PROC_START=${fields[19]}
}

# Sets INIT_PID if the container's init recorded in init.pid ("<pid> <start time>") still lives.
init_alive() {
  local start
  INIT_PID=''
  read -r INIT_PID start 2>/dev/null <"$DIR/init.pid" && proc_start "$INIT_PID" && [[ $PROC_START == "$start" ]]
}

# Records the container's init once nspawn has started it: nspawn's child that is PID 1 of a PID
# namespace of its own (its NSpid line ends in 1; nspawn's helper processes share nspawn's namespace).
note_init() {
  [[ ! -f $DIR/init.pid ]] || return 0
  local nspawn child children=() line
  nspawn=$(read_state nspawn.pid) && pid_matches "$nspawn" "$(nspawn_marker)" || return 0
  read -r -a children 2>/dev/null <"/proc/$nspawn/task/$nspawn/children" || true
  for child in "${children[@]}"; do
    while read -r line; do
      [[ $line =~ ^NSpid:[[:space:]]+${child}[[:space:]]+1$ ]] && proc_start "$child" || continue
      printf '%s %s\n' "$child" "$PROC_START" >"$DIR/init.pid"
      return 0
    done 2>/dev/null <"/proc/$child/status" || true
  done
}

# See "Status" in the header.
host_status() {
  if [[ ! -d $DIR/upper ]]; then
    echo absent
  elif init_alive || pid_matches "$(read_state nspawn.pid)" "$(nspawn_marker)"; then
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
# switch-up [<subnet> [<owner> [<info>]]], or switch-adopt when <adopt> is set (see the header). Under
# the allocation lock throughout: the owner is checked first and recorded last, so two stacks' calls
# never both take a lab.
cmd_switch_up() {
  local adopt=$1 owner=${4:-} info=${5:-}
  use_lab "$2"
  [[ -z $owner ]] || check_owner "$owner"
  check_owner_info "$info"
  lock_alloc
  refuse_foreign_lab "$owner" "$adopt"
  if (($# > 2)); then choose_subnet "$3"; fi
  switch_netns_up
  ip -n "$SWITCH" link show br0 &>/dev/null || ip -n "$SWITCH" link add br0 type bridge
  ip -n "$SWITCH" addr replace "$gateway/24" dev br0
  ip -n "$SWITCH" link set br0 up
  claim_lab "$owner" "$info"
}

cmd_switch_status() {
  use_lab "$1"
  if [[ -e /run/netns/$SWITCH ]]; then up_or_foreign "${2:-}"; else echo down; fi
}

cmd_switch_down() {
  use_lab "$1"
  [[ -z ${2:-} ]] || check_owner "$2"
  lock_alloc
  may_remove_lab "${2:-}" || return 0
  refuse_if_hosts
  stop_lab_forwards
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
# containerd inside needs a child in every v1 controller.
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

# Removes the host's cgroups, deepest first. A killed process leaves cgroup.procs before the kernel lets go
# of its cgroup: rmdir says EBUSY for a moment after kill_cgroup found none left (seen in a teardown under
# load, in a pod's scope of the name=systemd hierarchy), so each is tried again, bounded.
remove_cgroups() {
  [[ -f $DIR/cgroups ]] || return 0
  local dir deadline=$((SECONDS + 10))
  while read -r dir; do
    until [[ ! -d $dir ]] || find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null; do
      ((SECONDS < deadline)) ||
        die "cgroup $dir of $LAB/$HOST still busy 10 s after its processes were killed: $(find "$dir" -depth -type d -exec rmdir {} + 2>&1 | head -n 3)"
      kill_cgroup
      sleep 0.1
    done
    # The lab's level goes with its last host.
    rmdir "${dir%/*}" 2>/dev/null || true
  done <"$DIR/cgroups"
  rm -f "$DIR/cgroups"
}

# Kernel-wide sysctls kubelet insists on, each <path under /proc/sys>=<value>: it exits unless it reads
# these values or can write them, and /proc/sys is read-only in a host. Setting them on the machine
# would do for every lab, but panic_on_oops=1 would reboot the whole machine on any oops: instead the host
# reads them from files bound read-only over the entries, and the kernel keeps the machine's values.
kubelet_sysctls=(kernel/panic=10 kernel/panic_on_oops=1 vm/overcommit_memory=1)

# Sets HOST_BINDS to nspawn's flags for what it mounts into the host besides its disk. containerd's
# state is a directory of the workstation's file system, because the overlay snapshots of containers
# cannot have their upper dirs on the host's own overlay ("not supported as upperdir"). The sysctl files
# are in the host's own disk, written through the mounted overlay: nspawn looks up the source of a bind
# onto /proc inside the container's tree ("Failed to stat" a workstation path).
host_binds() {
  local entry name file
  install -d -m 0711 "$DIR/containerd"
  HOST_BINDS=("--bind=$DIR/containerd:/var/lib/containerd")
  install -d -m 0755 "$DIR/merged/var/lib/rwk-lab/sysctl"
  for entry in "${kubelet_sysctls[@]}"; do
    name=${entry%%=*}
    file=/var/lib/rwk-lab/sysctl/${name//\//.}
    printf '%s\n' "${entry#*=}" >"$DIR/merged$file"
    HOST_BINDS+=("--bind-ro=$file:/proc/sys/$name")
  done
}

# Boots the host, detached from the caller: its own session (setsid) so it outlives the calling
# process, stdin from /dev/null and output to a log so it holds none of the caller's pipes (a Node
# child_process call would otherwise wait for nspawn to exit). The subshell joins the host's cgroups
# before it execs setsid, which execs nspawn in place (not a group leader, so no fork): $! is nspawn.
launch_nspawn() {
  # A new boot, a new init: wait_for_ssh records it.
  rm -f "$DIR/init.pid"
  make_host_cgroups
  host_binds
  (
    close_inherited_fds
    while read -r dir; do printf '%s\n' "$BASHPID" >"$dir/cgroup.procs"; done <"$DIR/cgroups"
    exec setsid systemd-nspawn \
      --bind=/dev/kmsg \
      "${HOST_BINDS[@]}" \
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
    # As early as possible: from then on the host's status no longer hangs on nspawn.
    note_init
    if [[ $(host_status) != running ]]; then
      tail -n 30 "$DIR/nspawn.log" >&2
      # An empty log: nspawn ended without a word (a signal), which is worth saying, as the log goes
      # with the failed create.
      [[ -s $DIR/nspawn.log ]] || say "nspawn $(read_state nspawn.pid) ended and wrote nothing (killed?)"
      die "host $HOST of lab $LAB stopped while booting (log: $DIR/nspawn.log)"
    fi
    if sshd_answers "$port"; then
      note_init
      return 0
    fi
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
  rm -f "$DIR/nspawn.pid" "$DIR/init.pid"
  # nspawn deletes its propagation dir only on a clean exit, and not even then when /run is not a tmpfs.
  rm -rf "/run/systemd/nspawn/propagate/$MACHINE"
}

# The hosts' systemd, containerd and kubelet run as the workstation's root and share its inotify
# instances: the kernel's default of 128 runs out with three labs of Kubernetes hosts, and the next host
# to boot stops at once ("Failed to allocate manager object: Too many open files"). kind documents the
# same limit. Raised, never lowered: a setting of the whole workstation, which the lab needs.
inotify_instances=8192
ensure_inotify_instances() {
  local have
  have=$(sysctl -n fs.inotify.max_user_instances)
  ((have >= inotify_instances)) || sysctl -q -w "fs.inotify.max_user_instances=$inotify_instances"
}

# Boots an existing host (after create, start, or a kill) and waits for sshd.
boot() {
  ensure_inotify_instances
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
  image=$("$here/../images/image.sh" --print)
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
      # SIGRTMIN+3 asks the container's systemd for a clean poweroff. nspawn sends it when it gets
      # SIGTERM; when nspawn is gone (killed), the container's init gets it from here.
      pid=$(read_state nspawn.pid) || true
      if pid_matches "$pid" "$(nspawn_marker)"; then
        kill -TERM "$pid" 2>/dev/null || true
      elif init_alive; then
        kill -s RTMIN+3 "$INIT_PID" 2>/dev/null || true
      fi
      while [[ $(host_status) == running ]] && ((SECONDS < deadline)); do sleep 0.1; done
      [[ $(host_status) != running ]] || say "host $HOST did not power off within $stop_wait s; killing it"
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
  # The host's main process: its init, or nspawn while it boots.
  if [[ $status == running ]]; then
    if init_alive; then pid=$INIT_PID; else pid=$(read_state nspawn.pid); fi
  fi
  info_json "$status" "$pid" "$NETNS"
}

cmd_kill() {
  use_host "$1" "$2"
  require_host
  kill_cgroup
  nic_off
}

main() { driver_main "netns, mounts, cgroups" "$@"; }

main "$@"
