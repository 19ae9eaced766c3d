#!/usr/bin/env bash
# Builds, once, the Vagrant box `rwk/bookworm` for the libvirt provider from the lab image
# (lab/images/image.sh) and adds it to the project's Vagrant home. Nothing is downloaded but Debian
# packages.
#
#   lab/images/vagrant-box.sh           ensure the box is built and added (progress on stderr)
#   lab/images/vagrant-box.sh --print   the same, then print the box's directory in the Vagrant home on stdout
#
# The box:
#   box.img      qcow2 of one ext4 file system without a partition table (`mkfs.ext4 -d`, no loop mount),
#                from a COPY of the lab image plus linux-image-amd64; the shared image is never touched
#   vmlinuz, initrd.img
#                booted directly by libvirt (lv.kernel/lv.initrd in the box's Vagrantfile): no bootloader
#   Vagrantfile  direct kernel boot settings, relative to the box's own directory
#   metadata.json, rwk-box-key (the recipe key the box was built from)
# Inside: a `vagrant` user with Vagrant's well-known insecure key and passwordless sudo, accepted by
# sshd only from the management network's host side (see customize_box), no machine-id and no SSH host
# keys (made at first boot, so every VM has its own; measured here: a shared machine-id gives every VM the
# same DHCP lease), systemd-networkd doing DHCP on the management NIC (eth0). The lab NIC (eth1) gets
# its static address from whoever runs the box: lab/drivers/vagrant.sh writes a networkd file for it; with
# Vagrant's own network configuration (auto_config), its Debian guest plugin does the same.
#
# Cache layout:
#   $RWK_CACHE/vagrant-boxes/<key>/rwk-bookworm.box   <key> = hash of the image path (itself keyed by the
#                                                     image recipe), BOX_PACKAGES, BOX_RECIPE_VERSION, the
#                                                     customize functions and the insecure key
#   $RWK_CACHE/vagrant/                               VAGRANT_HOME, shared with lab/drivers/vagrant.sh
# Environment: RWK_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/real-world-kubernetes).
set -euo pipefail
# shellcheck source=lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly BOX_NAME=rwk/bookworm
# Packages added to the image copy: a kernel for a real VM (the image has none: nspawn hosts share the
# workstation's kernel).
readonly BOX_PACKAGES=(linux-image-amd64)
# Bump when something outside the hashed functions changes what a box contains.
readonly BOX_RECIPE_VERSION=1
# Size of the guest's root file system (GiB); the qcow2 only holds what is written.
readonly DISK_GB=2
# The kernel command line of every VM made from the box. root is the whole virtio disk (no partition
# table); net.ifnames=0 makes the management NIC eth0, the name the networkd file below matches (the
# lab NIC is matched by its MAC).
# mitigations=off: the guest runs emulated on the lab's own machine, and the mitigations cost a few
# percent of an already slow boot.
readonly KERNEL_CMDLINE="root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet mitigations=off"
# What building a box needs on the workstation.
readonly WORKSTATION_PACKAGES=(e2fsprogs qemu-utils tar util-linux vagrant vagrant-libvirt)

cache=$(cache_root)
boxes=$cache/vagrant-boxes
export VAGRANT_HOME=$cache/vagrant VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1

say() { printf '[vagrant-box] %s\n' "$*" >&2; }

# Vagrant's well-known insecure public key, as the installed Vagrant ships it.
insecure_public_key() {
  local f
  # Not `dpkg -L | grep -m1`: grep leaving early would fail the pipeline (pipefail).
  f=$(dpkg -L vagrant | grep '/keys/vagrant\.pub$' | head -n1)
  [[ -f $f ]] || die "the vagrant package ships no keys/vagrant.pub"
  cat "$f"
}

# Runs a command chrooted into <root> with /proc, /sys, /dev and the workstation's resolv.conf mounted in
# a private mount namespace: the mounts vanish with the command, even when it is killed, and nothing is
# written to the tree's own resolv.conf.
in_chroot() {
  local root=$1
  shift
  # shellcheck disable=SC2016  # expanded by the inner shell
  unshare --mount --fork --propagation private -- /bin/sh -euc '
    root=$1; shift
    mount -t proc proc "$root/proc"
    mount -t sysfs sys "$root/sys"
    mount --rbind /dev "$root/dev"
    if [ -f /etc/resolv.conf ]; then
      [ -e "$root/etc/resolv.conf" ] || : >"$root/etc/resolv.conf"
      mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
    fi
    exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
      LANG=C.UTF-8 "$@"
  ' sh "$root" "$@"
}

# Every step below writes into a tree given by path: never let an empty one mean the workstation.
check_tree() { [[ -n $1 && $1 != / && -d $1/etc ]] || die "not a root file system tree: '$1'"; }

# Installs the kernel into the copy. The initramfs lists only what finds the root disk (virtio, ext4):
# the default (MODULES=most) is ~10x larger and unpacking it costs seconds under software emulation.
install_kernel() {
  local root=$1
  check_tree "$root"
  # Nothing may start daemons inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  in_chroot "$root" apt-get update -qq
  in_chroot "$root" apt-get install -y -qq --no-install-recommends initramfs-tools
  printf 'MODULES=list\n' >"$root/etc/initramfs-tools/conf.d/rwk.conf"
  printf '%s\n' virtio_pci virtio_blk virtio_net virtio_rng ext4 >>"$root/etc/initramfs-tools/modules"
  in_chroot "$root" apt-get install -y -qq --no-install-recommends "${BOX_PACKAGES[@]}"
  in_chroot "$root" apt-get clean
  rm -f "$root/usr/sbin/policy-rc.d"
  rm -rf "$root"/var/lib/apt/lists/*
}

# Drops kernel modules no lab VM can use (graphics, sound, radio, media, InfiniBand): a smaller box is
# faster to add and to copy. Networking, storage, file systems and netfilter stay for Kubernetes.
prune_modules() {
  local root=$1 moddir version
  check_tree "$root"
  for moddir in "$root"/lib/modules/*/; do
    version=$(basename "$moddir")
    rm -rf "$moddir"kernel/{sound,drivers/gpu,drivers/media,drivers/infiniband,drivers/net/wireless} \
      "$moddir"kernel/{drivers/bluetooth,net/bluetooth,net/wireless,net/mac80211,drivers/staging,drivers/isdn}
    in_chroot "$root" depmod -a "$version"
  done
}

# Makes the copy a Vagrant box for libvirt; see the file comment for what and why.
customize_box() {
  local root=$1 pubkey=$2
  check_tree "$root"

  # The user Vagrant logs in as, with the insecure key it replaces on first boot, and sudo for provisioning.
  in_chroot "$root" useradd --create-home --shell /bin/bash vagrant
  install -d -m 0700 -o "$(stat -c %u "$root/home/vagrant")" -g "$(stat -c %g "$root/home/vagrant")" \
    "$root/home/vagrant/.ssh"
  printf '%s\n' "$pubkey" >"$root/home/vagrant/.ssh/authorized_keys"
  chmod 0600 "$root/home/vagrant/.ssh/authorized_keys"
  chown --reference="$root/home/vagrant" "$root/home/vagrant/.ssh/authorized_keys"
  printf 'vagrant ALL=(ALL) NOPASSWD:ALL\nDefaults:vagrant !requiretty\n' >"$root/etc/sudoers.d/vagrant"
  chmod 0440 "$root/etc/sudoers.d/vagrant"

  # Host keys per VM, made before sshd's first start. ed25519 only: under software emulation every key
  # type costs seconds of the first boot, and every client here (OpenSSH, Vagrant's net-ssh) speaks it.
  cat >"$root/etc/systemd/system/rwk-ssh-host-keys.service" <<'EOF'
[Unit]
Description=Generate this machine's own SSH host key (first boot)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key

[Install]
RequiredBy=ssh.service
EOF
  # Vagrant keeps logging in with the well-known insecure key (the lab's Vagrantfile sets insert_key =
  # false: swapping it costs ~18 s of SSH round trips per VM). So the vagrant user is accepted only
  # from 192.168.121.1, i.e. vagrant-libvirt's management network as seen from the lab's own netns:
  # not from the lab network, not through the workstation's SSH forwards (they arrive from the lab
  # network) and not from other VMs. root logs in with the stack's key only (lab/images/image.sh).
  cat >"$root/etc/ssh/sshd_config.d/20-rwk-vagrant.conf" <<'EOF'
# real-world-kubernetes Vagrant box (lab/images/vagrant-box.sh).
HostKey /etc/ssh/ssh_host_ed25519_key
AllowUsers root vagrant@192.168.121.1
EOF
  systemctl --root="$root" enable rwk-ssh-host-keys.service >&2

  # DHCP on the management NIC, with the MAC as DHCP client id (never the machine-id derived DUID, so a
  # cloned identity cannot make two VMs share a lease). Addresses are kept when Vagrant restarts networkd
  # to apply the private network, so its own SSH session over eth0 survives.
  cat >"$root/etc/systemd/network/10-rwk-management.network" <<'EOF'
[Match]
Name=eth0

[Network]
DHCP=ipv4
KeepConfiguration=dhcp

[DHCPv4]
ClientIdentifier=mac
EOF
  systemctl --root="$root" enable systemd-networkd.service >&2
  # Nothing at boot waits for the network; etcd and friends are started by the lab once it is up.
  systemctl --root="$root" disable systemd-networkd-wait-online.service >&2 || true

  # Periodic jobs a lab VM has no use for (no internet, throwaway disk); under software emulation they
  # cost CPU at boot (e2scrub_reap alone ran ~10 s).
  systemctl --root="$root" disable e2scrub_reap.service e2scrub_all.timer apt-daily.timer \
    apt-daily-upgrade.timer >&2
  # No display (the console is the serial port), no GPU, no EFI: nothing for these to do at boot.
  systemctl --root="$root" disable getty@tty1.service >&2
  systemctl --root="$root" mask modprobe@drm.service modprobe@efi_pstore.service >&2

  printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"
  # A first boot applies presets, which would enable containerd again (lab/images/image.sh disabled it:
  # the program starts it on a host with a Kubernetes role).
  mkdir -p "$root/etc/systemd/system-preset"
  printf 'disable containerd.service\n' >"$root/etc/systemd/system-preset/10-rwk.preset"

  # No identity of the image's own: machine-id is made at first boot (the dbus copy must go too).
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*_key "$root"/etc/ssh/ssh_host_*_key.pub
}

# The box's Vagrantfile: loaded before the project's, with paths relative to the unpacked box.
box_vagrantfile() {
  cat <<EOF
# Vagrantfile of the box $BOX_NAME (lab/images/vagrant-box.sh): Debian 12 booted directly from the kernel and
# initrd shipped beside box.img, which holds one ext4 file system without a partition table.
Vagrant.configure("2") do |config|
  # Vagrant would otherwise detect the guest with some twenty SSH commands, seconds each under emulation.
  config.vm.guest = :debian
  config.vm.provider :libvirt do |lv|
    lv.kernel = File.join(__dir__, "vmlinuz")
    lv.initrd = File.join(__dir__, "initrd.img")
    lv.cmd_line = "$KERNEL_CMDLINE"
    lv.disk_bus = "virtio"
    # Entropy from the workstation: sshd and the first-boot key generation never wait for it.
    lv.random :model => "random"
  end
end
EOF
}

box_key() {
  {
    printf '%s\n' "$1" "$BOX_RECIPE_VERSION" "$DISK_GB" "$KERNEL_CMDLINE" "${BOX_PACKAGES[@]}"
    insecure_public_key
    declare -f install_kernel prune_modules customize_box box_vagrantfile in_chroot
  } | sha256sum | cut -c1-16
}

# logged <log> <command...>: runs the command with its output appended to the log; on failure shows the
# log's end and exits. The subshell sets errexit itself: a command inside `if` or `||` would run without it.
logged() {
  local log=$1 rc
  shift
  set +e
  (set -e; "$@") >>"$log" 2>&1
  rc=$?
  set -e
  ((rc == 0)) || { tail -n 30 "$log" >&2; die "$1 failed (log: $log)"; }
}

build_box() {
  local image=$1 key=$2 final=$boxes/$2 tmp=$boxes/$2.tmp.$$ started=$SECONDS log
  log=$boxes/$key.build.log
  local stale
  for stale in "$final".tmp.*; do discard_tree "$stale"; done
  trap 'discard_tree "'"$tmp"'"' EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$tmp/box"
  say "building box $BOX_NAME ($key) from $image (a few minutes; log: $log)"
  cp -a "$image" "$tmp/rootfs"
  : >"$log"
  logged "$log" install_kernel "$tmp/rootfs"
  logged "$log" prune_modules "$tmp/rootfs"
  logged "$log" customize_box "$tmp/rootfs" "$(insecure_public_key)"

  local kernel initrd
  kernel=$(find "$tmp/rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n1)
  initrd=$(find "$tmp/rootfs/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -n1)
  [[ -f $kernel && -f $initrd ]] || die "no kernel or initrd in $tmp/rootfs/boot"
  cp "$kernel" "$tmp/box/vmlinuz"
  cp "$initrd" "$tmp/box/initrd.img"

  # The disk without any mount: mkfs copies the tree in; qemu-img keeps only written clusters, compressed.
  mkfs.ext4 -q -F -L rwk-root -d "$tmp/rootfs" "$tmp/disk.raw" "${DISK_GB}G" >/dev/null
  qemu-img convert -c -O qcow2 -o compression_type=zstd "$tmp/disk.raw" "$tmp/box/box.img"
  rm -f "$tmp/disk.raw"
  discard_tree "$tmp/rootfs"

  printf '{"provider":"libvirt","format":"qcow2","virtual_size":%d}\n' "$DISK_GB" >"$tmp/box/metadata.json"
  box_vagrantfile >"$tmp/box/Vagrantfile"
  printf '%s\n' "$key" >"$tmp/box/rwk-box-key"
  tar -C "$tmp/box" -cf "$tmp/rwk-bookworm.box" metadata.json Vagrantfile rwk-box-key vmlinuz initrd.img box.img
  rm -rf "$tmp/box"
  mv "$tmp" "$final"
  trap - EXIT
  say "built box in $((SECONDS - started)) s: $final/rwk-bookworm.box ($(du -h "$final/rwk-bookworm.box" | cut -f1))"
}

# Where Vagrant keeps the box once added (version 0: a box added from a file has no version).
installed_box_dir() { printf '%s/boxes/%s/0/libvirt\n' "$VAGRANT_HOME" "${BOX_NAME//\//-VAGRANTSLASH-}"; }

# Adds the box unless the Vagrant home already has this very build. A rebuilt box replaces the old one:
# VMs created from it keep their disks (lab/drivers/vagrant.sh links the old base image into each lab's
# pool), but their next start boots the new box's kernel (the box's Vagrantfile names it), with the
# modules of the old disk: recreate hosts (destroyed, then running) after a box change.
add_box() {
  local key=$1 dir
  dir=$(installed_box_dir)
  [[ -f $dir/rwk-box-key && $(<"$dir/rwk-box-key") == "$key" ]] && return
  say "adding box $BOX_NAME ($key) to $VAGRANT_HOME"
  vagrant box add --force --name "$BOX_NAME" "$boxes/$key/rwk-bookworm.box" >&2
}

main() {
  local print=false
  case ${1:-} in
    --print) print=true ;;
    '') ;;
    *) die "usage: $0 [--print]" ;;
  esac
  ((EUID == 0)) || die "must run as root (apt-get, chroot)"
  ensure_workstation_packages "${WORKSTATION_PACKAGES[@]}"
  local image key
  image=$("$here/image.sh" --print)
  mkdir -p "$boxes" "$VAGRANT_HOME"
  key=$(box_key "$image")
  # Parallel creates must neither build twice nor add the box while another adds it.
  exec {lock}>"$boxes/.lock"
  flock "$lock"
  [[ -f $boxes/$key/rwk-bookworm.box ]] || build_box "$image" "$key"
  add_box "$key"
  exec {lock}>&-
  if $print; then installed_box_dir; fi
}

main "$@"
