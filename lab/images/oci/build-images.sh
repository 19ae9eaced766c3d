#!/usr/bin/env bash
# Builds the container images the cluster runs, named exactly as upstream publishes them, as archives that
# `ctr -n k8s.io images import` loads with their names: no registry is reachable here, so every image is
# made from binaries built on this machine and Debian packages, by our own tool (lab/images/oci, Go).
#
#   lab/images/oci/build-images.sh [<kubernetes version>...]
#       builds what is missing (default: the first, default, Kubernetes version of versions.json) and
#       prints one line per image: <ref> <archive> <manifest digest>. Progress and timings go to stderr.
#       The lines of each version's images (its control plane, and pause, CoreDNS and busybox) are also
#       written to $RWK_CACHE/oci-images/kubernetes-v<version>.images, where the program reads them
#       (components/runtime/images.ts).
#
# The images (versions from the "cluster" section of versions.json), each one layer, laid out as upstream's:
#   registry.k8s.io/pause:<pause>               /pause (ours: lab/images/oci/pause), user 65535:65535
#   registry.k8s.io/kube-apiserver:v<version>, kube-controller-manager, kube-scheduler
#       /usr/local/bin/<binary> on a distroless-like base (passwd, group, nsswitch.conf, /tmp, homes),
#       entrypoint /go-runner: upstream's base image, go-runner, is kube-log-runner (its successor) from
#       the same release's k8s.io/component-base; kube-apiserver carries cap_net_bind_service+ep
#   registry.k8s.io/coredns/coredns:v<coredns>  /coredns with cap_net_bind_service+ep on the same base,
#       user 65532:65532, entrypoint /coredns
#   docker.io/library/busybox:<busybox>         Debian's busybox-static at <busyboxDebian>, every applet a
#       symlink in /bin, /usr/bin/env, cmd sh
# What upstream's base images have and these do not: CA certificates and time zone data.
#
# Cache layout:
#   $RWK_CACHE/toolchain/oci-<sources hash>/{oci,pause}   the tool and the pause program
#   $RWK_CACHE/toolchain/go-runner-v<component-base version>/go-runner
#   $RWK_CACHE/oci-images/<name>-<tag>-<inputs hash>.tar
# The inputs hash covers the tool's sources hash, the image's recipe, and each input file's path, size and
# modification time (for busybox, the pinned Debian version): a changed input gives a new archive beside the
# old one. Identical inputs give identical archives, so the digests are the inputs' true identity.
set -euo pipefail
shopt -s inherit_errexit

say() { printf '[images] %s\n' "$*" >&2; }
# shellcheck source=lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
src=lab/images/oci
cache=$(cache_root)
tools=$cache/toolchain
store=$cache/oci-images
mkdir -p "$tools" "$store"

# Builds must never fetch a Go toolchain, nor stamp the checkout's VCS state into what they build (it
# would change the pause image with every commit).
export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GOFLAGS=-buildvcs=false

# shellcheck source=lab/toolchain/lib.sh
. "$root/lab/toolchain/lib.sh"
load_pins "$root/versions.json"

# since <start>: seconds since a ${EPOCHREALTIME/./} reading, to the millisecond.
since() {
  local ms=$(((${EPOCHREALTIME/./} - $1) / 1000))
  printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}

# artifact <name> <key> <builder>: runs <builder> <outdir> unless <name>-<key> is built; prints the dir.
artifact() {
  local started=${EPOCHREALTIME/./} built
  build_once "$tools/$1-$2" "$tools/$1-$2.log" "$3"
  if $built; then say "built $1-$2 in $(since "$started") s"; fi
  printf '%s\n' "$tools/$1-$2"
}

build_tool() {
  (cd "$root/$src" && go build -trimpath -o "$1/oci" . &&
    go build -trimpath -ldflags '-s -w' -o "$1/pause" ./pause)
}

# go-runner as upstream builds it (static, stripped), from the module cache's read-only copy of
# k8s.io/component-base, whose own go.mod and go.sum pin its dependencies.
go_runner_version=
build_go_runner() {
  local json dir
  json=$(cd "$1" && go mod download -json "k8s.io/component-base@$go_runner_version")
  dir=$(node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));if(j.Error){console.error(j.Error);process.exit(1)}process.stdout.write(j.Dir)' <<<"$json")
  (cd "$dir" && go build -trimpath -ldflags '-s -w' -o "$1/go-runner" ./logs/kube-log-runner)
}

tool_key=$( (cd "$root/$src" && find . -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) \
  -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-12)
tool=$(artifact oci "$tool_key" build_tool)

# inputs_of <oci build flags>: the recipe, with each --file source's identity.
inputs_of() {
  local prev='' arg
  for arg in "$@"; do
    printf '%s\n' "$arg"
    [[ $prev == --file ]] && stat -L -c '%n %s %.9Y' "${arg%%:*}"
    prev=$arg
  done
}

# archive_for <ref> <inputs>: where the archive of these inputs is kept.
archive_for() {
  local ref=$1 repo tag key
  repo=${1%:*}; tag=${1##*:}
  key=$(printf '%s\n' "$tool_key" "$ref" "$2" | sha256sum | cut -c1-12)
  printf '%s/%s-%s-%s.tar\n' "$store" "${repo##*/}" "$tag" "$key"
}

# build <ref> <archive> <oci build flags>: builds and reports time and size.
build() {
  local ref=$1 out=$2 started=${EPOCHREALTIME/./}
  shift 2
  "$tool/oci" build --name "$ref" --out "$out" "$@" >/dev/null
  say "built $ref in $(since "$started") s, $(stat -c %s "$out" | awk '{ printf "%.1f", $1 / 1e6 }') MB"
}

# The lines of the images every version shares, and of each version's own (by version).
shared_lines=()
declare -A version_lines=()

# emit <ref> <archive> [<version>]: the line this script prints for an image, kept for the image lists:
# a version's own, or with no version every version's.
emit() {
  local digest line
  digest=$("$tool/oci" inspect "$2" | awk '$1 == "manifest" { print $2 }')
  [[ $digest == sha256:* ]] || die "no manifest digest in $2"
  line="$1 $2 $digest"
  if (($# > 2)); then
    version_lines[$3]+="$line"$'\n'
  else
    shared_lines+=("$line")
  fi
  printf '%s\n' "$line"
}

# image [--version <v>] <ref> <oci build flags>: an image whose inputs are all files already here; with
# --version, one of that Kubernetes version's own.
image() {
  local version=()
  [[ $1 == --version ]] && version=("$2") && shift 2
  local ref=$1 out
  shift
  out=$(archive_for "$ref" "$(inputs_of "$@")")
  [[ -f $out ]] || build "$ref" "$out" "$@"
  emit "$ref" "$out" "${version[@]}"
}

path_env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# distroless/static's content that a static Go binary may use: its users (root, nobody, nonroot 65532),
# the resolver order for /etc/hosts, a /tmp.
distroless=(
  --file "$root/$src/rootfs/distroless/etc/passwd:/etc/passwd:0644"
  --file "$root/$src/rootfs/distroless/etc/group:/etc/group:0644"
  --file "$root/$src/rootfs/distroless/etc/nsswitch.conf:/etc/nsswitch.conf:0644"
  --dir /tmp:1777 --dir /root:0700 --dir /home/nonroot:0700:65532:65532
  --env "$path_env" --workdir /
)

image "registry.k8s.io/pause:$(pin v.cluster.pause)" \
  --file "$tool/pause:/pause:0755" --user 65535:65535 --entrypoint /pause

kube_versions=("$@")
((${#kube_versions[@]})) || kube_versions=("$(pin v.cluster.kubernetes.0)")
# Each version once: one given twice would have its images listed twice.
mapfile -t kube_versions < <(printf '%s\n' "${kube_versions[@]#v}" | awk '!seen[$0]++')
coredns=$(pin v.cluster.coredns)
mapfile -t dirs < <("$root/lab/toolchain/kubernetes.sh" "${kube_versions[@]/#/kubernetes@}" "coredns@$coredns")
((${#dirs[@]} == ${#kube_versions[@]} + 1)) || die "lab/toolchain/kubernetes.sh did not give every directory"

for i in "${!kube_versions[@]}"; do
  v=${kube_versions[i]#v}
  # Kubernetes' staging modules are released as v0.<minor>.<patch> of the same version.
  go_runner_version=v0.${v#1.}
  go_runner=$(artifact go-runner "$go_runner_version" build_go_runner)/go-runner
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    caps=()
    # Upstream sets it so that kube-apiserver can serve on a port below 1024 without running as root.
    [[ $b == kube-apiserver ]] && caps=(--setcap "/usr/local/bin/$b:cap_net_bind_service")
    image --version "$v" "registry.k8s.io/$b:v$v" "${distroless[@]}" --file "$go_runner:/go-runner:0755" \
      --file "${dirs[i]}/$b:/usr/local/bin/$b:0755" "${caps[@]}" --entrypoint /go-runner
  done
done

# CoreDNS runs as 65532 and binds port 53 by its file capability, as upstream's image does.
image "registry.k8s.io/coredns/coredns:v$coredns" "${distroless[@]}" \
  --file "${dirs[-1]}/coredns:/coredns:0755" --setcap /coredns:cap_net_bind_service \
  --user 65532:65532 --expose 53/tcp --expose 53/udp --entrypoint /coredns

# busybox: Debian's package at the version versions.json pins, so the archive's key is known without
# asking apt (apt-cache takes seconds here) and a rebuild anywhere gives the same image.
busybox=$(pin v.cluster.busybox)
deb_version=$(pin v.cluster.busyboxDebian)
upstream=${deb_version#*:}
[[ ${upstream%%-*} == "$busybox" ]] || die "versions.json: busyboxDebian $deb_version is not busybox $busybox"
busybox_common=(
  --file "$root/$src/rootfs/busybox/etc/passwd:/etc/passwd:0644"
  --file "$root/$src/rootfs/busybox/etc/group:/etc/group:0644"
  --file "$root/$src/rootfs/busybox/etc/nsswitch.conf:/etc/nsswitch.conf:0644"
  --dir /tmp:1777 --dir /root:0700 --dir /home --dir /var/www
  --symlink /usr/bin/env:../../bin/env --env "$path_env" --cmd sh
)
ref=docker.io/library/busybox:$busybox
out=$(archive_for "$ref" "busybox-static=$deb_version
$(inputs_of "${busybox_common[@]}")")
if [[ ! -f $out ]]; then
  work=$(mktemp -d) started=${EPOCHREALTIME/./}
  trap 'rm -rf "$work"' EXIT
  # apt's sandbox user cannot write into a private temp dir; the download is verified by apt either way.
  if ! log=$(cd "$work" && apt-get -q -o APT::Sandbox::User=root download "busybox-static=$deb_version" 2>&1); then
    die "apt-get download busybox-static=$deb_version failed (apt-get update? or pin the version apt-cache policy busybox-static offers): $log"
  fi
  dpkg-deb -x "$work"/busybox-static_*.deb "$work/root"
  say "downloaded and unpacked busybox-static=$deb_version in $(since "$started") s"
  links=()
  while read -r applet; do
    [[ $applet == busybox ]] || links+=(--symlink "/bin/$applet:busybox")
  done < <("$work/root/bin/busybox" --list)
  build "$ref" "$out" "${busybox_common[@]}" --file "$work/root/bin/busybox:/bin/busybox:0755" "${links[@]}"
fi
emit "$ref" "$out"

# Each version's list, replaced whole: a reader never sees half of one.
for v in "${kube_versions[@]#v}"; do
  list=$store/kubernetes-v$v.images
  printf '%s%s\n' "${version_lines[$v]}" "$(printf '%s\n' "${shared_lines[@]}")" >"$list.tmp"
  mv "$list.tmp" "$list"
done
