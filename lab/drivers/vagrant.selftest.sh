#!/usr/bin/env bash
# Exercises lab/images/vagrant-box.sh and lab/drivers/vagrant.sh for real (root, netns, libvirt, QEMU):
# one lab with one VM through its whole life — create, SSH as root with the lab key, stop, start,
# destroy —, that the lab is its owner's alone, and that nothing of the lab is left afterwards. Cleans up
# on failure too, through vagrant.sh destroy and switch-down, which stop only what the lab runs. Ends
# with timings and a "N passed, N failed" line.
#
#   lab/drivers/vagrant.selftest.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
vagrant=$here/vagrant.sh
state_root=${RWK_STATE:-/var/lib/real-world-kubernetes}/labs
cache=${RWK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/real-world-kubernetes}
lab=rwk-vgtest
host=core-01
addr=172.17.8.101
work=$(mktemp -d)
key=$work/id_ed25519
passed=0
timings=()
started=$EPOCHREALTIME

log() { printf '[vagrant-selftest] %s\n' "$*" >&2; }
ok() { passed=$((passed + 1)); printf 'ok %d - %s\n' "$passed" "$*"; }
fail() {
  printf 'not ok - %s\n' "$*"
  exit 1
}
# check <description> <command...>: the command must succeed.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

now() { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
timing() { timings+=("$(printf '%-44s %7s s' "$1" "$2")"); }
# timed <label> <command...>: runs the command and records its wall time.
timed() {
  local label=$1 t
  shift
  t=$(now)
  "$@"
  timing "$label" "$(since "$t")"
}

# refused_naming <text> <command...>: the command must fail and say <text> on stderr.
refused_naming() {
  local text=$1 err
  shift
  ! err=$("$@" 2>&1 >/dev/null) && [[ $err == *"$text"* ]]
}

# Destroys whatever the self-test lab has (from this run or an aborted earlier one) and its switch.
remove_lab() {
  local h
  while read -r h _; do
    [[ -n $h ]] && "$vagrant" destroy "$lab" "$h"
  done < <("$vagrant" list "$lab")
  "$vagrant" switch-down "$lab"
}

finish() {
  local rc=$?
  if ((rc != 0)); then
    log "failed; cleaning up"
    remove_lab || log "cleanup incomplete: run '$vagrant destroy $lab $host; $vagrant switch-down $lab'"
  fi
  rm -rf "$work"
  timing "total" "$(since "$started")"
  printf '\nTimings:\n'
  printf '  %s\n' "${timings[@]}"
  printf '%d passed, %d failed\n' "$passed" "$((rc != 0))"
  exit "$rc"
}

info_field() { "$vagrant" info "$lab" "$host" | jq -r ".$1"; }
port() { info_field sshPort; }

# on <remote command>: SSH the way the engine does, as root with the lab key through the 127.0.0.1 forward.
on() {
  ssh -i "$key" -p "$(port)" -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR root@127.0.0.1 "$@"
}

status_is() { [[ $("$vagrant" status "$lab" "$host") == "$1" ]]; }
unreachable() { ! on true 2>/dev/null; }
system_running() { [[ $(on systemctl is-system-running) =~ ^(running|degraded)$ ]]; }
hostname_is() { [[ $(on hostname) == "$1" ]]; }
# The lab address sits on the NIC that is not the management one (eth0 has Vagrant's DHCP lease).
lab_address_is() { on ip -4 -o addr show | grep -v ' eth0 ' | grep -q " inet $1/24 "; }
machine_id_inside() { on cat /etc/machine-id; }
etcd_inactive() { [[ $(on 'systemctl is-active etcd; systemctl is-enabled etcd') == $'inactive\ndisabled' ]]; }
# A TCP connection to sshd from the lab's switch netns: what the drills' etcdctl runs there sees.
switch_reaches_host() { "$vagrant" exec "$lab" timeout 5 bash -c "exec 3<>/dev/tcp/$addr/22"; }
# The box keeps Vagrant's well-known insecure key for the vagrant user: it must not work through the
# forward, which is open to every local user.
insecure_key_refused() {
  ! ssh -i "$cache/vagrant/insecure_private_key" -p "$(port)" -o BatchMode=yes -o ConnectTimeout=5 \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR vagrant@127.0.0.1 true 2>/dev/null
}
domains() { "$vagrant" virsh "$lab" list --all --name | sed '/^$/d'; }
# Volumes other than the box's base image.
vm_volumes() { "$vagrant" virsh "$lab" vol-list default | awk '{ print $1 }' | grep -v '_vagrant_box_image_' | sed '/^$/d' || true; }
networks() { "$vagrant" virsh "$lab" net-list --all --name | sed '/^$/d' | sort | tr '\n' ' '; }

# render_part lab|host: that part of the Vagrantfile exactly as the Pulumi program renders it for this lab
# (the Switch's and the Machine's driverConfig).
render_part() {
  (cd "$root" && npx ts-node --transpile-only -e '
    const { renderVagrantHost, renderVagrantLab } = require("./components/host/vagrantfile");
    const [part, lab, name, address] = process.argv.slice(1);
    const subnet = { cidr: "172.17.8.0/24", network: 0xac110800, prefix: 24, gateway: "172.17.8.1" };
    const vagrant = { box: "rwk/bookworm", provider: "libvirt", memory: 512, cpus: 1, libvirtDriver: "qemu" };
    process.stdout.write(
      part === "lab"
        ? renderVagrantLab({ lab, subnet, vagrant })
        : renderVagrantHost({ lab, subnet, host: { name, address }, provider: vagrant.provider }),
    );
  ' "$1" "$lab" "$host" "$addr")
}

# The lab's Vagrantfile as the driver joined it: the lab's part, then the host's.
vagrantfile_joined() {
  [[ $(<"$state_root/$lab/_vagrant/Vagrantfile") == "$lab_part"$'\n'"$host_part" ]]
}

# Processes that ran in the lab's switch netns (libvirtd, virtlogd, dnsmasq, qemu), with their command
# lines, so their absence can be checked once the netns is gone.
netns_processes() {
  local pid
  for pid in $(ip netns pids "$lab-sw" 2>/dev/null); do
    printf '%s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
  done
}

# True if no netns, process, mount, libvirt object or state of the lab is left.
nothing_left() {
  local left=() pid cmd
  ip netns list | grep -q "^$lab-" && left+=(netns)
  while read -r pid cmd; do
    [[ -n $pid && -r /proc/$pid/cmdline && $(tr '\0' ' ' <"/proc/$pid/cmdline") == "$cmd" ]] && left+=("process $pid: $cmd")
  done <"$work/netns-processes"
  pgrep -f -- "guest=$lab-|labs/$lab/" >/dev/null && left+=(processes)
  findmnt -rn -o SOURCE,TARGET | grep -q "$lab" && left+=(mounts)
  # The lab's libvirt lived in its own directories; nothing of it may have reached the system's.
  [[ -n $(find /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt -name "*$lab*" 2>/dev/null) ]] &&
    left+=("files in the system's libvirt dirs")
  [[ -e $state_root/$lab ]] && left+=(state)
  ((${#left[@]} == 0)) || { log "left of $lab: ${left[*]}"; return 1; }
}

main() {
  ((EUID == 0)) || { echo "run as root" >&2; exit 1; }
  mkdir -p "$state_root"
  exec {run_lock}>"$state_root/.vagrant-selftest.lock"
  flock -n "$run_lock" || { echo "another vagrant self-test is running" >&2; exit 1; }
  trap finish EXIT
  trap 'exit 130' INT TERM

  timed "box ready (build or reuse)" "$here/../images/vagrant-box.sh"
  log "removing leftovers of an earlier run, if any"
  remove_lab
  ssh-keygen -q -t ed25519 -N '' -C rwk-vagrant-selftest -f "$key"
  # Each call gets the part its caller in the program sends: the Switch the lab's, the Machine its own.
  lab_part=$(render_part lab)
  host_part=$(render_part host)

  # The lab is owner A's, as a stack's lab is (lib.sh, ownership).
  local owner_a owner_b
  owner_a=$(</proc/sys/kernel/random/uuid)
  owner_b=$(</proc/sys/kernel/random/uuid)
  timed "switch-up" env RWK_DRIVER_CONFIG="$lab_part" "$vagrant" switch-up "$lab" 172.17.8.0/24 "$owner_a" \
    "selftest owner A"
  check "switch-status says up" test "$("$vagrant" switch-status "$lab")" == up
  check "the lab has its two libvirt networks" test "$(networks)" == "lan vagrant-libvirt "
  check "switch-up is idempotent" "$vagrant" switch-up "$lab" 172.17.8.0/24 "$owner_a" "selftest owner A"
  check "switch-up by owner B is refused, naming owner A" \
    refused_naming "selftest owner A" "$vagrant" switch-up "$lab" 172.17.8.0/24 "$owner_b"
  check "switch-up without a token is refused" bash -c "! '$vagrant' switch-up '$lab' 2>/dev/null"
  check "switch-status says foreign to owner B" test "$("$vagrant" switch-status "$lab" "$owner_b")" == foreign

  timed "create (vagrant up to SSH ready)" env RWK_DRIVER_CONFIG="$host_part" \
    "$vagrant" create "$lab" "$host" "$addr" "$key.pub"
  check "the lab's Vagrantfile is its part joined with the host's" vagrantfile_joined
  check "$host is running" status_is running
  check "$host runs systemd (running or degraded)" system_running
  check "$host has hostname $host" hostname_is "$host"
  check "$host has $addr on its lab NIC" lab_address_is "$addr"
  check "the switch netns reaches $addr:22" switch_reaches_host
  local id
  id=$(machine_id_inside)
  check "machine-id is set" test -n "$id"
  check "info's machineId is the VM's /etc/machine-id" test "$(info_field machineId)" == "$id"
  check "info's address is $addr" test "$(info_field address)" == "$addr"
  check "etcd is inactive and disabled" etcd_inactive
  check "Vagrant's insecure key does not open the forward" insecure_key_refused
  check "list shows the running host" test "$("$vagrant" list "$lab")" == "$host running"
  check "the domain is named after lab and host" test "$(domains)" == "$lab-$host"
  local t status_time
  t=$(now)
  "$vagrant" status "$lab" "$host" >/dev/null
  status_time=$(since "$t")
  timing "status" "$status_time"
  check "status takes under 100 ms" awk -v t="$status_time" 'BEGIN { exit !(t < 0.1) }'

  local port
  port=$(port)
  timed "stop (vagrant halt)" env RWK_DRIVER_CONFIG="$host_part" "$vagrant" stop "$lab" "$host"
  check "$host is stopped" status_is stopped
  check "$host is unreachable over SSH" unreachable
  check "the forward port is kept" test "$(port)" == "$port"

  timed "start (vagrant up of the stopped VM to SSH)" env RWK_DRIVER_CONFIG="$host_part" \
    "$vagrant" start "$lab" "$host"
  check "$host is running again" status_is running
  check "$host kept its machine-id" test "$(machine_id_inside)" == "$id"
  check "$host kept its forward port" test "$(port)" == "$port"
  check "$host kept its hostname" hostname_is "$host"
  check "$host kept its lab address" lab_address_is "$addr"

  check "switch-down is refused while hosts exist" bash -c "! '$vagrant' switch-down '$lab' 2>/dev/null"
  check "switch-down by owner B succeeds and changes nothing" "$vagrant" switch-down "$lab" "$owner_b"
  check "switch-status still says up to owner A" test "$("$vagrant" switch-status "$lab" "$owner_a")" == up
  check "$host still runs systemd" system_running

  timed "destroy (vagrant destroy -f)" "$vagrant" destroy "$lab" "$host"
  check "$host is absent" status_is absent
  check "info of an absent host says so" test "$(info_field status)" == absent
  check "no domain is left in the lab's libvirt" test -z "$(domains)"
  check "no VM volume is left in the lab's pool" test -z "$(vm_volumes)"
  check "no forward is left" bash -c "! ss -Hltn | grep -q '127.0.0.1:$port '"

  netns_processes >"$work/netns-processes"
  timed "switch-down" "$vagrant" switch-down "$lab" "$owner_a"
  check "switch-status says down" test "$("$vagrant" switch-status "$lab")" == down
  check "nothing of $lab is left (netns, processes, mounts, libvirt objects, state)" nothing_left
}

main "$@"
