#!/usr/bin/env bash
# The `vagrant` lab driver: Vagrant + vagrant-libvirt virtual machines as lab hosts, with the same verbs
# as lab/drivers/machines.sh so the same Pulumi dynamic resources drive both. The measured facts behind
# the choices are in the comments where they apply.
#
#   vagrant.sh switch-up   <lab> [<a.b.c.0/24> [<owner> [<owner-info>]]]
#                                                             the lab's netns <lab>-sw with its own virtlogd and
#                                                             libvirtd, the lab network (bridge br0, a.b.c.1);
#                                                             <owner> claims the lab (see lib.sh, ownership):
#                                                             refused if another owns it, or if it has hosts
#                                                             but no owner; <owner-info> names who
#   vagrant.sh switch-adopt <lab> <a.b.c.0/24> <owner> [<owner-info>]
#                                                             switch-up that also claims a lab with hosts but
#                                                             no owner (a stack's lab from before owners)
#   vagrant.sh switch-down <lab> [<owner>]                    stop them, delete netns and state (refused while hosts
#                                                             exist); with <owner>, another's lab is left alone
#   vagrant.sh switch-status <lab> [<owner>]                  up | down; with <owner>, foreign for a lab that is
#                                                             up but not that owner's
#   vagrant.sh create  <lab> <host> <addr> <pubkey-file> [<port>]
#                                                             vagrant up a new VM, authorize the key for root,
#                                                             SSH forward 127.0.0.1:<port>, wait for sshd
#   vagrant.sh start   <lab> <host>                           vagrant up a stopped VM (disk kept); wait for sshd
#   vagrant.sh stop    <lab> <host>                           vagrant halt; the forward port is kept for start
#   vagrant.sh destroy <lab> <host>                           vagrant destroy -f; disk, forward and state go
#   vagrant.sh status  <lab> <host>                           running | stopped | absent
#   vagrant.sh info    <lab> <host>                           JSON: status, sshPort, machineId, address, netns, pid
#   vagrant.sh kill    <lab> <host>                           hard power-off (failure injection)
#   vagrant.sh cut|heal <lab> <host>                          take the VM's link on the lab network down/up
#   vagrant.sh forward-up <lab> <name> <addr> <port> [<local>]  127.0.0.1:<local> to <addr>:<port> (lab/lib.sh)
#   vagrant.sh forward-down|forward-status <lab> <name>        stop it | up or down
#   vagrant.sh exec    <lab> <cmd...>                         run a command in the lab's switch netns
#   vagrant.sh virsh   <lab> <args...>                        virsh against the lab's own libvirtd
#   vagrant.sh list    <lab>                                  "<host> <status>", one per line
# The lab's Vagrantfile comes in parts, each in $RWK_DRIVER_CONFIG (components/host/vagrantfile.ts renders
# them): the lab's part (box, provider, sizes) with switch-up and switch-adopt, a host's own part (its
# config.vm.define) with create, start and stop. The driver keeps each part until its lab or host goes,
# and joins the lab's part and its hosts' parts into the Vagrantfile before every vagrant command, so a
# host's caller carries only its own part: adding a host changes nothing for the others.
#
# Layout. Nothing is added to the root netns but the 127.0.0.1 SSH forwards, so labs (and the nspawn labs
# of lab/drivers/machines.sh) run side by side with the same host names and addresses:
#   netns <lab>-sw     lo; br0 <subnet>.1 = libvirt network "lan" (isolated: no NAT, no DHCP), which
#                      Vagrant's private_network finds by address; virbr0 192.168.121.1 = libvirt network
#                      "vagrant-libvirt", Vagrant's management network (DHCP; Vagrant's own SSH)
#   a mount namespace  made at switch-up and shared by the lab's virtlogd, libvirtd, their children (qemu,
#                      dnsmasq) and every vagrant/virsh call (nsenter into libvirtd's namespaces): there,
#                      /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and
#                      /var/cache/libvirt are the lab's own directories, so two labs' libvirtds never meet
#   $RWK_STATE/labs/<lab>/
#       subnet owner
#       _libvirt/{etc,run,lib,log,cache}/ libvirtd.pid virtlogd.pid daemons.log
#                      (the pool "default" is _libvirt/lib/images: box base image + one qcow2 per VM)
#       _vagrant/      the Vagrant project: Vagrantfile (joined), Vagrantfile.lab (the lab's part), .vagrant/
#                      (underscore: no host can be named so)
#       <host>/        address port domain machine-id Vagrantfile.host (its part) forward.pid forward.log
#                      vagrant.log
#   $RWK_CACHE/vagrant/              VAGRANT_HOME (the box, added by lab/images/vagrant-box.sh)
#   $RWK_CACHE/vagrant-libvirt/      the QEMU wrapper and libvirt's QEMU capabilities cache, shared by labs
# Domains are named <lab>-<host> (the Vagrantfile's default_prefix), so qemu processes show their lab.
#
# Environment: RWK_STATE (default /var/lib/real-world-kubernetes), RWK_CACHE, RWK_DRIVER_CONFIG,
# RWK_SSH_WAIT (seconds for sshd after vagrant is done, default 120), RWK_VAGRANT_TIMEOUT (seconds per
# vagrant command, default 900).
set -euo pipefail
# shellcheck source=lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=lab/drivers/interface.sh
. "$(dirname "${BASH_SOURCE[0]}")/interface.sh"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=$(cache_root)
shared=$cache/vagrant-libvirt
ssh_wait=${RWK_SSH_WAIT:-120}
vagrant_timeout=${RWK_VAGRANT_TIMEOUT:-900}
# What the driver runs on the workstation; installed when missing.
readonly WORKSTATION_PACKAGES=(dnsmasq-base iproute2 iptables libvirt-clients libvirt-daemon-system
  openssh-client qemu-system-x86 qemu-utils socat util-linux vagrant vagrant-libvirt)
# The libvirt network that is the lab's switch.
readonly lan_network=lan lan_bridge=br0

say() { printf '[vagrant] %s\n' "$*" >&2; }

usage() {
  { echo usage:; sed -n 's/^#   vagrant.sh/  vagrant.sh/p' "${BASH_SOURCE[0]}"; } >&2
  exit 2
}

# The lab's names (lib.sh) and where its own libvirt and Vagrant project live.
use_vagrant_lab() {
  use_lab "$1"
  LIBVIRT_DIR=$LAB_DIR/_libvirt
  VAGRANT_DIR=$LAB_DIR/_vagrant
}

# Sets the names everything about one host is found by. Spawns no process: status must stay cheap.
use_host() {
  use_vagrant_lab "$1"
  check_host_name "$2"
  HOST=$2
  DIR=$LAB_DIR/$HOST
  # What the Vagrantfile's default_prefix makes of it; the real name is recorded once the domain exists.
  DOMAIN=$LAB-$HOST
  [[ -f $DIR/domain ]] && DOMAIN=$(<"$DIR/domain")
  return 0
}

pid_from() { [[ -f $1 ]] && printf '%s' "$(<"$1")"; }

libvirtd_pid() { pid_from "$LIBVIRT_DIR/libvirtd.pid"; }
daemons_up() { pid_matches "$(libvirtd_pid)" "$LIBVIRT_DIR/libvirtd.pid"; }

# libvirt keeps the qemu PID of a running domain in its run dir; qemu names the guest in `-name guest=`.
qemu_pid() { pid_from "$LIBVIRT_DIR/run/qemu/$DOMAIN.pid"; }
qemu_marker() { printf 'guest=%s,*' "$DOMAIN"; }

# absent: no host, or no domain defined for it (a create that never got that far); running: its qemu
# lives; stopped otherwise. Reads files only.
host_status() {
  if [[ ! -d $DIR || ! -f $LIBVIRT_DIR/etc/qemu/$DOMAIN.xml ]]; then
    echo absent
  elif pid_matches "$(qemu_pid)" "$(qemu_marker)"; then
    echo running
  else
    echo stopped
  fi
}

require_host() { [[ $(host_status) != absent ]] || die "host $HOST of lab $LAB does not exist"; }
require_switch() {
  [[ -e /run/netns/$SWITCH ]] || die "lab $LAB has no switch: run '$0 switch-up $LAB' first"
  daemons_up || die "libvirtd of lab $LAB is not running: run '$0 switch-up $LAB' again"
}

# --- locking -----------------------------------------------------------------------------------------
# One lock per lab serialises every Vagrant command of the lab (measured here: several machines at once made
# vagrant-libvirt crawl; one at a time is also what the project's Vagrant state can bear). The
# allocation lock (lib.sh), shared with lab/drivers/machines.sh, is taken after it.
LAB_LOCK_FD=

lock_lab() { mkdir -p "$LAB_DIR"; exec {LAB_LOCK_FD}>"$LAB_DIR/.lock"; flock "$LAB_LOCK_FD"; }

# --- workstation -------------------------------------------------------------------------------------
# The QEMU that libvirt runs for the lab's VMs (the Vagrantfile's lv.emulator_path, through
# RWK_QEMU_EMULATOR). libvirt starts QEMU with `-accel tcg` and no translation-cache size, so every VM
# reserved 1 GiB for it (measured here: 1.6 GB of host memory for a 512 MB guest); 128 MiB is plenty for a
# small guest, and thread=multi lets a VM with several vCPUs use several host cores. KVM (`-accel kvm`)
# passes through unchanged. Rewritten only when it changes: libvirt re-probes an emulator whose file
# changed, which costs seconds.
qemu_wrapper() {
  local file=$shared/qemu-system-x86_64 text
  text=$(
    cat <<'EOF'
#!/bin/sh
# Written by lab/drivers/vagrant.sh: QEMU with a bounded TCG translation cache for the lab's VMs.
prev=
for arg do
  shift
  if [ "$prev" = -accel ] && [ "$arg" = tcg ]; then arg=tcg,thread=multi,tb-size=128; fi
  set -- "$@" "$arg"
  prev=$arg
done
exec /usr/bin/qemu-system-x86_64 "$@"
EOF
  )
  mkdir -p "$shared"
  if [[ ! -x $file || $(<"$file") != "$text" ]]; then
    printf '%s\n' "$text" >"$file.tmp"
    chmod 0755 "$file.tmp"
    mv "$file.tmp" "$file"
  fi
  printf '%s\n' "$file"
}

# --- the lab's libvirt -------------------------------------------------------------------------------
# Runs a command in the lab's network and mount namespaces (where its libvirtd and Vagrant live).
in_lab() {
  local pid
  pid=$(libvirtd_pid)
  nsenter --target "$pid" --mount --net --wd="$PWD" -- "$@"
}

lab_virsh() { in_lab virsh --quiet --connect qemu:///system "$@"; }

# The lab's libvirt configuration. QEMU runs as root with no relabelling of files (no user to own the
# images, and the box's base image is shared by hard link with the Vagrant home); no cgroups (QEMU stays
# in libvirtd's, so nothing is left under /sys/fs/cgroup); logs in the lab's log dir.
write_libvirt_config() {
  local etc=$LIBVIRT_DIR/etc
  mkdir -p "$etc" "$LIBVIRT_DIR"/{run,lib,log,cache}
  cat >"$etc/qemu.conf" <<'EOF'
# Written by lab/drivers/vagrant.sh for this lab's own libvirtd.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
EOF
  cat >"$etc/libvirtd.conf" <<'EOF'
# Written by lab/drivers/vagrant.sh for this lab's own libvirtd.
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
  cat >"$etc/virtlogd.conf" <<'EOF'
# Written by lab/drivers/vagrant.sh for this lab's own virtlogd.
log_outputs = "3:file:/var/log/libvirt/virtlogd.log"
EOF
  printf 'uri_default = "qemu:///system"\n' >"$etc/libvirt.conf"
}

# Starts the lab's virtlogd and libvirtd in a new mount namespace inside the switch netns, each with a
# pid file in the lab dir (their marker, too). The daemons outlive this script; they hold none of its
# descriptors. libvirt's QEMU capabilities are seeded from the shared cache: probing QEMU costs seconds
# at every first start.
start_daemons() {
  local mounts=() d
  for d in etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt cache:/var/cache/libvirt; do
    mkdir -p "${d#*:}"
    mounts+=("$LIBVIRT_DIR/${d%%:*}" "${d#*:}")
  done
  if [[ -d $shared/capabilities ]]; then
    mkdir -p "$LIBVIRT_DIR/cache/qemu/capabilities"
    cp -a "$shared/capabilities/." "$LIBVIRT_DIR/cache/qemu/capabilities/"
  fi
  (
    close_inherited_fds
    # shellcheck disable=SC2016  # expanded by the inner shell
    exec ip netns exec "$SWITCH" unshare --mount --propagation slave -- /bin/sh -euc '
      dir=$1; shift
      while [ $# -gt 0 ]; do mount --bind "$1" "$2"; shift 2; done
      virtlogd --daemon --pid-file "$dir/virtlogd.pid"
      exec libvirtd --daemon --pid-file "$dir/libvirtd.pid"
    ' sh "$LIBVIRT_DIR" "${mounts[@]}"
  ) </dev/null >>"$LIBVIRT_DIR/daemons.log" 2>&1 || {
    tail -n 20 "$LIBVIRT_DIR/daemons.log" >&2
    die "starting virtlogd/libvirtd of lab $LAB failed (log: $LIBVIRT_DIR/daemons.log)"
  }
  local i
  for ((i = 0; i < 600; i++)); do
    daemons_up && lab_virsh version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "libvirtd of lab $LAB did not answer within 60 s (logs: $LIBVIRT_DIR/daemons.log, $LIBVIRT_DIR/log/)"
}

# Stops one recorded daemon: SIGTERM, then SIGKILL after 10 s.
stop_daemon() {
  local name=$1 file=$LIBVIRT_DIR/$1.pid pid i
  pid=$(pid_from "$file") || return 0
  pid_matches "$pid" "$file" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    pid_matches "$pid" "$file" || return 0
    sleep 0.1
  done
  say "$name of lab $LAB did not exit within 10 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# Defines (from XML on stdin), autostarts and starts a libvirt network of the lab unless it exists.
ensure_network() {
  local name=$1 xml=$LIBVIRT_DIR/network-$1.xml
  if ! lab_virsh net-info "$name" >/dev/null 2>&1; then
    cat >"$xml"
    lab_virsh net-define "$xml" >/dev/null
    lab_virsh net-autostart "$name" >/dev/null
  fi
  if [[ $(lab_virsh net-info "$name" | awk '$1 == "Active:" { print $2 }') != yes ]]; then
    lab_virsh net-start "$name" >/dev/null
  fi
}

# The lab's two networks, made here rather than by vagrant-libvirt, which finds them by their addresses
# and (told so by the Vagrantfile) never removes them:
#  - the lab network: the switch, br0 with the gateway address, isolated (no NAT, no DHCP: this driver
#    gives every host its static address);
#  - Vagrant's management network (vagrant-libvirt's default name and 192.168.121.0/24), with DHCP,
#    isolated too (the netns has no way out): vagrant-libvirt records a network it creates itself and
#    deletes it with the last VM, so every create would wait for a new one.
ensure_networks() {
  ensure_network "$lan_network" <<EOF
<network>
  <name>$lan_network</name>
  <bridge name='$lan_bridge' stp='off' delay='0'/>
  <ip address='$gateway' netmask='255.255.255.0'/>
</network>
EOF
  ensure_network vagrant-libvirt <<EOF
<network>
  <name>vagrant-libvirt</name>
  <bridge name='virbr0' stp='off' delay='0'/>
  <ip address='192.168.121.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.121.2' end='192.168.121.254'/>
    </dhcp>
  </ip>
</network>
EOF
}

# The storage pool vagrant-libvirt uses ("default"), on the lab's own /var/lib/libvirt/images.
ensure_pool() {
  if ! lab_virsh pool-info default >/dev/null 2>&1; then
    lab_virsh pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
    lab_virsh pool-build default >/dev/null
    lab_virsh pool-autostart default >/dev/null
  fi
  if [[ $(lab_virsh pool-info default | awk '$1 == "State:" { print $2 }') != running ]]; then
    lab_virsh pool-start default >/dev/null
  fi
}

# Puts the box's disk into the lab's pool under the name vagrant-libvirt looks for, so `vagrant up`
# finds it there instead of uploading it through libvirt (measured here: 2 of the first up's 3 minutes). A
# hard link costs nothing and nothing writes to it: it is only ever the backing file of the VMs' own
# qcow2 disks. The name carries box.img's mtime, so a rebuilt box gets a volume of its own while VMs
# made from the old one keep theirs.
stage_box_volume() {
  local boxdir=$1 volume pool=$LIBVIRT_DIR/lib/images escaped
  # vagrant-libvirt's HandleBoxImage#get_volume_name for an unversioned box (version 0); the box's
  # directory is <VAGRANT_HOME>/boxes/<name with / as -VAGRANTSLASH->/0/libvirt.
  escaped=$(basename "$(dirname "$(dirname "$boxdir")")")
  volume="${escaped}_vagrant_box_image_0_$(stat -c %Y "$boxdir/box.img")_box.img"
  [[ -f $pool/$volume ]] && return
  ln "$boxdir/box.img" "$pool/$volume.tmp" 2>/dev/null || cp "$boxdir/box.img" "$pool/$volume.tmp"
  mv "$pool/$volume.tmp" "$pool/$volume"
  lab_virsh pool-refresh default >/dev/null
}

# switch-up [<subnet> [<owner> [<info>]]], or switch-adopt when <adopt> is set (see the header). Under
# the lab lock throughout: the owner is checked first and recorded last, so two stacks' calls never
# both take a lab.
cmd_switch_up() {
  local adopt=$1 owner=${4:-} info=${5:-}
  use_vagrant_lab "$2"
  [[ -z $owner ]] || check_owner "$owner"
  check_owner_info "$info"
  # The packages' own services never start here (policy-rc.d, no systemd): switch-up starts the daemons.
  ensure_workstation_packages "${WORKSTATION_PACKAGES[@]}"
  lock_lab
  refuse_foreign_lab "$owner" "$adopt"
  if (($# > 2)); then choose_subnet "$3"; fi
  switch_netns_up
  keep_part "$VAGRANT_DIR/Vagrantfile.lab"
  if ! daemons_up; then
    # A virtlogd left alone (libvirtd died) lives in an old mount namespace: start both afresh.
    stop_daemon virtlogd
    write_libvirt_config
    start_daemons
  fi
  ensure_networks
  ensure_pool
  claim_lab "$owner" "$info"
}

# Stops everything libvirt runs for the lab (domains, networks with their dnsmasq) through libvirt
# itself, then the daemons, then whatever a dead libvirtd left running according to its own pid files.
stop_lab_libvirt() {
  local name pidfile pid
  if daemons_up; then
    while read -r name; do
      [[ -n $name ]] || continue
      lab_virsh destroy "$name" >/dev/null 2>&1 || true
      lab_virsh undefine --nvram "$name" >/dev/null 2>&1 || lab_virsh undefine "$name" >/dev/null 2>&1 || true
    done < <(lab_virsh list --all --name)
    while read -r name; do
      [[ -n $name ]] || continue
      lab_virsh net-destroy "$name" >/dev/null 2>&1 || true
      lab_virsh net-undefine "$name" >/dev/null 2>&1 || true
    done < <(lab_virsh net-list --all --name)
    while read -r name; do
      [[ -n $name ]] || continue
      lab_virsh pool-destroy "$name" >/dev/null 2>&1 || true
      lab_virsh pool-undefine "$name" >/dev/null 2>&1 || true
    done < <(lab_virsh pool-list --all --name)
    save_capabilities
  fi
  stop_daemon libvirtd
  stop_daemon virtlogd
  for pidfile in "$LIBVIRT_DIR"/run/qemu/*.pid "$LIBVIRT_DIR"/run/network/*.pid; do
    [[ -f $pidfile ]] || continue
    pid=$(<"$pidfile")
    name=$(basename "$pidfile" .pid)
    if pid_matches "$pid" "guest=$name,*" || pid_matches "$pid" "--conf-file=/var/lib/libvirt/dnsmasq/$name.conf"; then
      say "killing $(tr '\0' ' ' </proc/"$pid"/cmdline | cut -c1-60) left by libvirtd of lab $LAB"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

# Keeps libvirt's probe results for the next lab (libvirt checks them against the binaries itself).
save_capabilities() {
  local src=$LIBVIRT_DIR/cache/qemu/capabilities
  compgen -G "$src/*.xml" >/dev/null || return 0
  mkdir -p "$shared/capabilities"
  local f
  for f in "$src"/*.xml; do
    cp "$f" "$shared/capabilities/.$(basename "$f").$$"
    mv "$shared/capabilities/.$(basename "$f").$$" "$shared/capabilities/$(basename "$f")"
  done
}


cmd_switch_status() {
  use_vagrant_lab "$1"
  if [[ -e /run/netns/$SWITCH ]] && daemons_up; then up_or_foreign "${2:-}"; else echo down; fi
}

cmd_switch_down() {
  use_vagrant_lab "$1"
  [[ -z ${2:-} ]] || check_owner "$2"
  [[ -d $LAB_DIR || -e /run/netns/$SWITCH ]] || return 0
  lock_lab
  lock_alloc
  may_remove_lab "${2:-}" || return 0
  refuse_if_hosts
  stop_lab_forwards
  stop_lab_libvirt
  if [[ -e /run/netns/$SWITCH ]]; then ip netns del "$SWITCH"; fi
  rm -rf --one-file-system "$LAB_DIR"
}

# --- vagrant -------------------------------------------------------------------------------------------
# Keeps the caller's part of the Vagrantfile (RWK_DRIVER_CONFIG) as <file>; without one, the part kept
# earlier stays.
keep_part() {
  [[ -n ${RWK_DRIVER_CONFIG:-} ]] || return 0
  mkdir -p "$(dirname "$1")"
  printf '%s\n' "$RWK_DRIVER_CONFIG" >"$1.tmp"
  mv "$1.tmp" "$1"
}

# The project's Vagrantfile: the lab's part, then the part of each host that has one, by host name.
# Vagrant merges the parts' configure blocks in that order.
join_vagrantfile() {
  local host
  [[ -f $VAGRANT_DIR/Vagrantfile.lab ]] ||
    die "lab $LAB has no Vagrantfile part: switch-up takes it in RWK_DRIVER_CONFIG"
  {
    cat "$VAGRANT_DIR/Vagrantfile.lab"
    while read -r host; do
      if [[ -f $LAB_DIR/$host/Vagrantfile.host ]]; then cat "$LAB_DIR/$host/Vagrantfile.host"; fi
    done < <(lab_hosts)
  } >"$VAGRANT_DIR/Vagrantfile.tmp"
  mv "$VAGRANT_DIR/Vagrantfile.tmp" "$VAGRANT_DIR/Vagrantfile"
}

# Before vagrant acts on the current host: keeps the host's part if the caller sent one (create, start
# and stop do), then joins the Vagrantfile.
write_vagrantfile() {
  keep_part "$DIR/Vagrantfile.host"
  [[ -f $DIR/Vagrantfile.host ]] || die "host $HOST has no Vagrantfile part: pass it in RWK_DRIVER_CONFIG"
  join_vagrantfile
}

# Runs vagrant for the lab's project inside the lab's namespaces, output appended to the host's log
# (shown when it fails). Bounded: a wedged vagrant must not hold the lab lock forever.
run_vagrant() {
  local log=$DIR/vagrant.log rc=0
  printf '\n[%(%F %T)T] $ vagrant %s\n' -1 "$*" >>"$log"
  in_lab env \
    VAGRANT_HOME="$cache/vagrant" \
    VAGRANT_CWD="$VAGRANT_DIR" \
    VAGRANT_DEFAULT_PROVIDER=libvirt \
    VAGRANT_NO_PARALLEL=1 \
    VAGRANT_CHECKPOINT_DISABLE=1 \
    VAGRANT_BOX_UPDATE_CHECK_DISABLE=1 \
    LIBVIRT_DEFAULT_URI=qemu:///system \
    RWK_QEMU_EMULATOR="$(qemu_wrapper)" \
    timeout --kill-after=30 "$vagrant_timeout" vagrant "$@" --no-color --no-tty </dev/null >>"$log" 2>&1 || rc=$?
  printf '[%(%F %T)T] exit status %d\n' -1 "$rc" >>"$log"
  if ((rc != 0)); then
    tail -n 25 "$log" >&2
    say "vagrant $1 $HOST failed with status $rc (log: $log)"
    return "$rc"
  fi
}

# vagrant-libvirt records the domain's UUID in the machine's data dir once the domain exists.
vagrant_machine_id_file() { printf '%s/.vagrant/machines/%s/libvirt/id' "$VAGRANT_DIR" "$HOST"; }

# The key Vagrant logs in with: one it put on the VM (only with insert_key), else the insecure key in
# the copy Vagrant keeps in its home with the permissions OpenSSH insists on.
vagrant_key() {
  local key=$VAGRANT_DIR/.vagrant/machines/$HOST/libvirt/private_key
  [[ -f $key ]] || key=$cache/vagrant/insecure_private_key
  printf '%s\n' "$key"
}

# The VM's address on Vagrant's management network (its DHCP lease in the lab's libvirt).
management_address() {
  lab_virsh domifaddr "$DOMAIN" --source lease | awk '$3 == "ipv4" { sub(/\/.*/, "", $4); print $4; exit }'
}

# Runs a command on the VM as the vagrant user, the way Vagrant does: over the management network from
# the lab's netns (the only place the box accepts the vagrant user from).
vm_ssh() {
  local mgmt
  mgmt=$(management_address)
  [[ -n $mgmt ]] || die "host $HOST has no address on the management network"
  ip netns exec "$SWITCH" ssh -i "$(vagrant_key)" -o BatchMode=yes -o ConnectTimeout=10 \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "vagrant@$mgmt" "$@"
}

# Gives a new VM its identity in one SSH session (each of Vagrant's own commands costs about a second
# against an emulated VM): hostname, the lab address on the NIC plugged into the lab network (found by
# its MAC; a networkd file, so it survives reboots), its name on that address in /etc/hosts, and the
# stack's key for root, passed on stdin, never on a command line. Records the machine-id systemd made
# at first boot.
write_identity() {
  local pubkey=$1 addr mac id script
  addr=$(read_state address)
  mac=$(lab_virsh domiflist "$DOMAIN" | awk -v net="$lan_network" '$3 == net { print $5; exit }')
  [[ $mac =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || die "host $HOST has no NIC on the lab network '$lan_network'"
  # shellcheck disable=SC2016  # expanded on the VM
  script='
    host=$1 addr=$2 mac=$3
    install -d -m 0700 /root/.ssh
    cat >/root/.ssh/authorized_keys
    chmod 0600 /root/.ssh/authorized_keys
    printf "%s\n" "$host" >/etc/hostname
    hostname "$host"
    sed -i "/[[:space:]]$host\$/d" /etc/hosts
    printf "%s\t%s\n" "$addr" "$host" >>/etc/hosts
    printf "[Match]\nMACAddress=%s\n\n[Network]\nAddress=%s/24\n" "$mac" "$addr" \
      >/etc/systemd/network/20-rwk-lab.network
    systemctl restart systemd-networkd
    cat /etc/machine-id
  '
  # ssh joins its arguments into one line for the remote shell: quote each for that shell.
  id=$(vm_ssh "$(printf '%q ' sudo sh -euc "$script" sh "$HOST" "$addr" "$mac")" <"$pubkey")
  [[ $id =~ ^[0-9a-f]{32}$ ]] || die "host $HOST reported no valid machine-id ('$id')"
  printf '%s\n' "$id" >"$DIR/machine-id"
}

refresh_machine_id() {
  local id
  id=$(vm_ssh cat /etc/machine-id)
  [[ $id =~ ^[0-9a-f]{32}$ ]] || die "host $HOST reported no valid machine-id ('$id')"
  printf '%s\n' "$id" >"$DIR/machine-id"
}

record_domain() {
  local uuid name
  uuid=$(<"$(vagrant_machine_id_file)")
  name=$(lab_virsh domname "$uuid")
  [[ -n $name ]] || die "libvirt knows no domain $uuid for $HOST"
  printf '%s\n' "$name" >"$DIR/domain"
  DOMAIN=$name
}

wait_for_ssh() {
  local port deadline=$((SECONDS + ssh_wait))
  port=$(read_state port)
  while ((SECONDS < deadline)); do
    [[ $(host_status) == running ]] || die "host $HOST of lab $LAB is not running (log: $DIR/vagrant.log)"
    sshd_answers "$port" && return 0
    sleep 0.5
  done
  die "sshd of $HOST (lab $LAB) did not answer on 127.0.0.1:$port within $ssh_wait s"
}

# --- commands --------------------------------------------------------------------------------------------
# Boots an existing or new VM with vagrant and puts the forward in front of it.
vagrant_up() {
  local boxdir
  write_vagrantfile
  boxdir=$("$here/../images/vagrant-box.sh" --print)
  stage_box_volume "$boxdir"
  run_vagrant up "$HOST"
  record_domain
}

cmd_create() {
  local addr=$3 pubkey=$4 port=${5:-}
  use_host "$1" "$2"
  check_pubkey "$pubkey"
  [[ -z $port || $port =~ ^[0-9]+$ ]] || die "port '$port': want a number"
  require_switch
  lock_lab
  [[ $(host_status) == absent ]] || die "host $HOST of lab $LAB already exists (destroy it first)"
  # What an interrupted create left (no domain yet) goes first.
  if [[ -d $DIR ]]; then destroy_host; fi
  lock_alloc
  require_switch
  check_address "$addr"
  mkdir -p "$DIR"
  # All or nothing: a create that fails leaves no host behind, so the caller can simply retry.
  trap 'rollback_create' EXIT
  printf '%s\n' "$addr" >"$DIR/address"
  allocate_port "$port" >"$DIR/port"
  unlock_alloc
  vagrant_up
  write_identity "$pubkey"
  start_forward
  wait_for_ssh
  trap - EXIT
}

rollback_create() {
  local rc=$?
  say "create of $HOST (lab $LAB) failed; removing what it made"
  # Kept until switch-down: the host's own dir goes with the rollback.
  if [[ -f $DIR/vagrant.log ]]; then
    mkdir -p "$VAGRANT_DIR"
    cp "$DIR/vagrant.log" "$VAGRANT_DIR/$HOST.failed-create.log" && say "vagrant's log: $VAGRANT_DIR/$HOST.failed-create.log"
  fi
  destroy_host || say "cleanup after the failed create was incomplete: run '$0 destroy $LAB $HOST'"
  exit "$rc"
}

# Removes the VM (through vagrant, and libvirt directly for whatever vagrant no longer knows), the
# forward and the host's state. Works without the lab's daemons too (e.g. after a reboot): then the
# domain's files are deleted directly.
destroy_host() {
  stop_forward
  if daemons_up; then
    if [[ -f $(vagrant_machine_id_file) ]]; then
      # The host's part is still kept, so the joined Vagrantfile defines the machine vagrant destroys.
      if [[ -f $VAGRANT_DIR/Vagrantfile.lab ]]; then join_vagrantfile; fi
      run_vagrant destroy -f "$HOST" || say "vagrant destroy failed; removing the domain through libvirt"
    fi
    if lab_virsh dominfo "$DOMAIN" >/dev/null 2>&1; then
      lab_virsh destroy "$DOMAIN" >/dev/null 2>&1 || true
      lab_virsh undefine "$DOMAIN" --remove-all-storage >/dev/null
    fi
    lab_virsh vol-delete --pool default "$DOMAIN.img" >/dev/null 2>&1 || true
  else
    if pid_matches "$(qemu_pid)" "$(qemu_marker)"; then kill -KILL "$(qemu_pid)" 2>/dev/null || true; fi
    rm -f "$LIBVIRT_DIR/etc/qemu/$DOMAIN.xml" "$LIBVIRT_DIR/etc/qemu/autostart/$DOMAIN.xml" \
      "$LIBVIRT_DIR/lib/images/$DOMAIN.img"
  fi
  rm -rf "$VAGRANT_DIR/.vagrant/machines/$HOST"
  rm -rf --one-file-system "$DIR"
}

cmd_start() {
  use_host "$1" "$2"
  require_host
  require_switch
  lock_lab
  case $(host_status) in
    absent) die "host $HOST of lab $LAB does not exist" ;;
    running)
      pid_matches "$(read_state forward.pid)" "$(forward_marker)" || start_forward
      wait_for_ssh
      ;;
    stopped)
      vagrant_up
      refresh_machine_id
      start_forward
      wait_for_ssh
      ;;
  esac
}

cmd_stop() {
  use_host "$1" "$2"
  require_host
  require_switch
  lock_lab
  stop_forward
  if [[ $(host_status) == running ]]; then
    write_vagrantfile
    # Graceful (shutdown over SSH); vagrant powers the domain off itself if that does not finish.
    run_vagrant halt "$HOST" || true
    if [[ $(host_status) == running ]]; then
      say "host $HOST did not halt; powering it off"
      lab_virsh destroy "$DOMAIN" >/dev/null
    fi
  fi
}

cmd_destroy() {
  use_host "$1" "$2"
  [[ -d $LAB_DIR ]] || return 0
  lock_lab
  [[ -d $DIR ]] || return 0
  destroy_host
}

cmd_kill() {
  use_host "$1" "$2"
  require_host
  require_switch
  stop_forward
  if [[ $(host_status) == running ]]; then lab_virsh destroy "$DOMAIN" >/dev/null; fi
}

# The VM's NIC on the lab network: its tap device on br0, down (cut) or up (heal), as pulling a cable.
set_link() {
  require_host
  require_switch
  [[ $(host_status) == running ]] || die "host $HOST of lab $LAB is not running"
  local tap
  tap=$(lab_virsh domiflist "$DOMAIN" | awk -v net="$lan_network" '$3 == net { print $1 }')
  [[ -n $tap ]] || die "host $HOST has no interface on network $lan_network"
  ip -n "$SWITCH" link set "$tap" "$1"
}

cmd_info() {
  use_host "$1" "$2"
  local status pid=null
  status=$(host_status)
  [[ $status == running ]] && pid=$(qemu_pid)
  info_json "$status" "$pid" "$SWITCH"
}

driver_extra_virsh() {
  use_vagrant_lab "$1"
  shift
  require_switch
  lab_virsh "$@"
}

main() { driver_main "netns, libvirt" "$@"; }

main "$@"
