#!/usr/bin/env bash
# Builds, once, the Debian 12 root filesystem that every lab host boots from (lab/drivers/machines.sh
# mounts a per-host overlay on it), and installs what the lab needs on the workstation.
#
#   lab/images/image.sh           ensure the image exists (progress on stderr)
#   lab/images/image.sh --print   the same, then print the rootfs path alone on stdout
#
# Cache layout, outside the checkout:
#   $RWK_CACHE/images/<key>/rootfs   <key> = hash of the package list, the suite, RECIPE_VERSION and the
#                                    body of customize_image, so any change to the recipe builds a new
#                                    image beside the old one (hosts created from the old one keep it).
# Environment: RWK_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/real-world-kubernetes),
#              RWK_MIRROR (default: the Debian mirror this machine's apt sources use).
set -euo pipefail
# shellcheck source=lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# Packages installed in the image. The container runtime is Debian's (containerd 1.6 and runc, measured
# inside these hosts: /work/shared/LAB.md); conntrack and iptables are what kube-proxy and the CNI plugins
# call; keepalived holds the API servers' virtual IP. The cluster's own binaries (etcd, kubelet, crictl, CNI plugins) are copied by the program.
IMAGE_PACKAGES=(
  ca-certificates conntrack containerd curl dbus gzip iproute2 iptables iputils-ping jq keepalived less
  openssh-server procps runc sudo systemd systemd-sysv tar
)
# Bump when something outside IMAGE_PACKAGES and customize_image changes what an image contains.
RECIPE_VERSION=1
SUITE=bookworm
# What the lab needs on the workstation itself: lab/drivers/machines.sh and its self-test (jq).
WORKSTATION_PACKAGES=(debootstrap iproute2 jq openssh-client socat systemd-container util-linux)

images=$(cache_root)/images

say() { printf '[image] %s\n' "$*" >&2; }

# Prints the first mirror in this machine's apt sources (deb822 *.sources or one-line *.list) that
# serves "$SUITE main": the sandbox reaches only that mirror, not whatever debootstrap would default to.
apt_mirror() {
  if [[ -n ${RWK_MIRROR:-} ]]; then printf '%s\n' "$RWK_MIRROR"; return; fi
  local files=() f mirror
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && files+=("$f")
  done
  ((${#files[@]})) || die "no apt sources found; set RWK_MIRROR"
  mirror=$(awk -v suite="$SUITE" '
    function has(list, word,   n, a, i) { n = split(list, a, /[ \t]+/); for (i = 1; i <= n; i++) if (a[i] == word) return 1; return 0 }
    function flush() { if (found) return; if (types ~ /(^|[ \t])deb([ \t]|$)/ && has(suites, suite) && has(comps, "main") && uri != "") { print uri; found = 1; exit } types = suites = comps = uri = "" }
    FNR == 1 { flush() }
    FILENAME ~ /\.sources$/ {
      if ($0 ~ /^[ \t]*$/) { flush(); next }
      if ($1 == "Types:") { types = substr($0, index($0, ":") + 1) }
      if ($1 == "URIs:") { uri = $2 }
      if ($1 == "Suites:") { suites = substr($0, index($0, ":") + 1) }
      if ($1 == "Components:") { comps = substr($0, index($0, ":") + 1) }
      next
    }
    $1 == "deb" {
      sub(/\[[^]]*\][ \t]*/, "")
      if ($3 == suite) { rest = ""; for (i = 4; i <= NF; i++) rest = rest " " $i; if (has(rest, "main")) { print $2; found = 1; exit } }
    }
    END { flush() }
  ' "${files[@]}")
  [[ -n $mirror ]] || die "no apt source serves '$SUITE main'; set RWK_MIRROR"
  printf '%s\n' "$mirror"
}

# Makes the freshly bootstrapped tree a template for many hosts: no identity of its own, sshd reachable
# by key only, containerd ready for a system container but not started. etcd is not in the image: the
# program copies the release a stack asks for to its hosts.
customize_image() {
  local root=$1
  # Identity is given per host by machines.sh create. The dbus copy must go too, or systemd copies the
  # old id back at boot.
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*_key "$root"/etc/ssh/ssh_host_*_key.pub
  : >"$root/etc/hostname"

  systemctl --root="$root" enable ssh.service >&2
  # A host without a Kubernetes role runs no container runtime: the program enables containerd where it
  # places one.
  systemctl --root="$root" disable containerd.service >&2

  # In systemd-nspawn the cgroup hierarchies and /proc/sys are read-only, and containerd with runc writes
  # both: a cgroup per container, the sysctls of each pod's netns (/proc/sys/net bound onto itself is a
  # mount of its own, made writable apart from the rest of /proc/sys). systemd re-executes afterwards to
  # see the controllers writable, so that it can make the slices and scopes of the systemd cgroup driver;
  # --no-block, because it runs this unit. Pulled in by containerd alone; nothing to do in a VM.
  cat >"$root/usr/local/sbin/rwk-container-mounts" <<'SCRIPT'
#!/bin/sh
set -eu
findmnt -rn -t cgroup,cgroup2 -o TARGET | grep '^/sys/fs/cgroup/' | while read -r dir; do
  mount -o remount,bind,rw "$dir"
done
mountpoint -q /proc/sys/net || mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,rw /proc/sys/net
systemctl --no-block daemon-reexec
SCRIPT
  chmod 0755 "$root/usr/local/sbin/rwk-container-mounts"
  cat >"$root/etc/systemd/system/rwk-container-mounts.service" <<'UNIT'
[Unit]
Description=Writable cgroups and net sysctls for containers (lab/images/image.sh)
ConditionVirtualization=container
Before=containerd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/rwk-container-mounts

[Install]
RequiredBy=containerd.service
UNIT
  systemctl --root="$root" enable rwk-container-mounts.service >&2

  # Debian's sshd_config includes sshd_config.d/*.conf before its own settings, and the first value wins.
  cat >"$root/etc/ssh/sshd_config.d/10-rwk.conf" <<'EOF'
# real-world-kubernetes lab host: root by key only, no reverse DNS (there is no resolver in the lab),
# and the environment the Pulumi command provider and the drills pass along.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
AcceptEnv PULUMI_COMMAND_* RWK_*
EOF

  # machines.sh create appends "<address> <host>"; the lab has no DNS, so names of the other hosts are
  # whatever the drills add.
  cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF

  rm -f "$root"/var/cache/apt/archives/*.deb
  rm -rf "$root"/var/lib/apt/lists/*
}

image_key() {
  { printf '%s\n' "$SUITE" "$RECIPE_VERSION" "${IMAGE_PACKAGES[@]}"; declare -f customize_image; } |
    sha256sum | cut -c1-16
}

build_image() {
  local final=$1 tmp=$1.tmp.$$ log=$1.build.log mirror started=$SECONDS
  mirror=$(apt_mirror)
  # A build interrupted earlier leaves a .tmp.<pid> tree; we hold the lock, so none of them is live.
  local stale
  for stale in "$final".tmp.*; do discard_tree "$stale"; done
  trap 'discard_tree "'"$tmp"'"' EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$tmp"
  say "building $SUITE image from $mirror into $final (about a minute; log: $log)"
  local packages
  packages=$(IFS=,; printf '%s' "${IMAGE_PACKAGES[*]}")
  if ! debootstrap --variant=minbase --include="$packages" "$SUITE" "$tmp/rootfs" "$mirror" >"$log" 2>&1; then
    tail -n 25 "$log" >&2
    die "debootstrap failed (full log: $log)"
  fi
  customize_image "$tmp/rootfs"
  mv "$tmp" "$final"
  trap - EXIT
  say "built image in $((SECONDS - started)) s: $final/rootfs ($(du -sh "$final/rootfs" | cut -f1))"
}

main() {
  local print=false
  case ${1:-} in
    --print) print=true ;;
    '') ;;
    *) die "usage: $0 [--print]" ;;
  esac
  ((EUID == 0)) || die "must run as root (apt-get, debootstrap)"
  ensure_workstation_packages "${WORKSTATION_PACKAGES[@]}"
  mkdir -p "$images"
  local dir
  dir=$images/$(image_key)
  if [[ ! -d $dir/rootfs ]]; then
    # Two callers (e.g. parallel host creates) must not both build; the second waits and reuses.
    exec {lock}>"$images/.lock"
    flock "$lock"
    [[ -d $dir/rootfs ]] || build_image "$dir"
    exec {lock}>&-
  fi
  if $print; then printf '%s\n' "$dir/rootfs"; fi
}

main "$@"
