#!/usr/bin/env bash
# Builds the cluster's binaries (Kubernetes, etcd, crictl, CNI plugins, CoreDNS) from the Go module proxy,
# the only source of them reachable here, and caches them outside the checkout by version so a fresh clone
# (CI) reuses them.
#
#   lab/toolchain/kubernetes.sh [component@version ...]   build what is missing, print each directory
#   lab/toolchain/kubernetes.sh --check [component@version ...]   exit 0 only if all of them are built
#
# Components: kubernetes, etcd, crictl, cni-plugins, coredns. Without arguments: the default (first)
# versions of the "cluster" section of versions.json that a default stack and the tests need. Cache layout:
#   $RWK_CACHE/kubernetes/<component>-v<version>/<binaries> and build-info (times, sizes, Go version)
#   $RWK_CACHE/kubernetes/logs/<component>-v<version>.log
#
# Every build starts from the released module's own go.mod and go.sum; the only change made to them is
# pointing replace lines that name a sibling directory of the upstream repository (Kubernetes' staging
# modules, etcd's api/client/pkg/server modules) at the release of that module. Keeping upstream's go.mod
# as the main module keeps its exact dependency pins and its go/godebug lines, which set the binaries'
# runtime defaults.
set -euo pipefail
shopt -s inherit_errexit

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${RWK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/real-world-kubernetes}
store=$cache/kubernetes
log_dir=$store/logs
mkdir -p "$store" "$log_dir"

# Builds must never fetch a Go toolchain. -mod=mod only lets go record go.sum lines for the released
# modules that replace upstream's local directories (checked against the checksum database); a change to
# go.mod's requirements is reported in the log. A go.work above the cache must not take part.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"

say() { printf '[kubernetes] %s\n' "$*" >&2; }

# shellcheck source=lab/toolchain/lib.sh
. "$root/lab/toolchain/lib.sh"
load_pins "$root/versions.json"

# module_time <module>@<version>: the version's time as the proxy reports it. Stamped as the build date,
# so that rebuilding one version gives the same binaries.
module_time() {
  (cd "$store" && GOFLAGS='' go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "$1")
}

info_value() { sed -n "s/^$2=//p" "$1/build-info"; }

# artifact <component> <version> <builder>: runs <builder> <outdir> <version> unless the component's
# version is cached; prints the dir.
artifact() {
  local name=$1-v$2 started=$SECONDS built
  build_once "$store/$name" "$log_dir/$name.log" "$3" "$2"
  if $built; then
    say "built $name in $((SECONDS - started)) s (download $(info_value "$store/$name" download_seconds) s," \
      "compile $(info_value "$store/$name" build_seconds) s)"
  fi
  printf '%s\n' "$store/$name"
}

# pin_local_replaces <module dir> [version for v0.0.0]: upstream repositories build their modules side by
# side, with replace lines pointing at sibling directories the module zip does not contain. Each such
# line that stands in for a required module now names that module's release: the version go.mod requires,
# or, where go.mod requires the placeholder v0.0.0 (Kubernetes' staging modules), the given version, which
# then becomes the requirement too (what go would write there itself), so that any other change go makes
# to go.mod while resolving is a real departure from upstream's pins. The replace stays, and so keeps
# forcing that version as upstream's directory did. Replace lines for modules nobody requires (etcd's
# FORBIDDEN_DEPENDENCY guards) stay as they are.
pin_local_replaces() {
  local edits
  # shellcheck disable=SC2016 # JavaScript template strings, not shell
  edits=$(cd "$1" && go mod edit -json | node -e '
    const m = JSON.parse(require("fs").readFileSync(0, "utf8")), placeholder = process.argv[1];
    const required = new Map((m.Require || []).map((r) => [r.Path, r.Version]));
    for (const r of m.Replace || []) {
      if (r.New.Version || !required.has(r.Old.Path)) continue;
      let v = required.get(r.Old.Path);
      if (v === "v0.0.0") {
        v = placeholder;
        if (!v) { console.error(`no version to replace ${r.Old.Path} => ${r.New.Path} with`); process.exit(1); }
        console.log(`-require=${r.Old.Path}@${v}`);
      }
      const old = r.Old.Version ? `${r.Old.Path}@${r.Old.Version}` : r.Old.Path;
      console.log(`-replace=${old}=${r.Old.Path}@${v}`);
    }' "${2:-}") || return 1
  [[ -z $edits ]] && return
  printf 'go mod edit %s\n' "${edits//$'\n'/ }"
  # shellcheck disable=SC2086 # one go mod edit flag per line, none with spaces
  (cd "$1" && go mod edit $edits)
}

# go_build <src> <output> <ldflags> <package>...: downloads what the packages import (timed apart from
# the compile), then builds them all in one go build so shared packages compile once. $tags, if set, is
# passed as -tags. Times land in <output's artifact>/build-info through $info.
go_build() {
  local src=$1 output=$2 ldflags=$3 t
  shift 3
  local -a tag_flag=()
  [[ -n ${tags:-} ]] && tag_flag=(-tags "$tags")
  cp "$src/go.mod" "$src/go.mod.upstream"
  t=$SECONDS
  (cd "$src" && go list -deps "${tag_flag[@]}" "$@" >/dev/null)
  printf 'download_seconds=%s\n' "$((SECONDS - t))" >>"$info.times"
  if ! diff -u "$src/go.mod.upstream" "$src/go.mod"; then
    say "note: resolving the packages changed upstream's go.mod (diff above)"
    printf 'go_mod_changed=%s (diff in the log)\n' "${src##*/}" >>"$info"
  fi
  t=$SECONDS
  (cd "$src" && go build -trimpath "${tag_flag[@]}" -ldflags "$ldflags" -o "$output" "$@")
  printf 'build_seconds=%s\n' "$((SECONDS - t))" >>"$info.times"
}

# check_version <expected text> <command>...: a binary must report the version it was built as. Many
# version commands exit non-zero (a CNI plugin run without CNI_COMMAND), so only the text counts.
check_version() {
  local want=$1 got
  shift
  got=$("$@" 2>&1 || true)
  if ! grep -qF -- "$want" <<<"$got"; then
    say "${1##*/} reports the wrong version: wanted '$want', got:"; printf '%s\n' "$got" >&2; return 1
  fi
  printf 'version %s: %s\n' "${1##*/}" "$(grep -F -- "$want" <<<"$got" | head -n 1)" | tee -a "$info"
}

# start_info <out> <module@version>: what a later reader of the cache needs to know about a build.
start_info() {
  info=$1/build-info
  : >"$info.times"
  printf 'module=%s\ngo=%s\n' "$2" "$(go env GOVERSION)" >"$info"
}

# finish_info <out>: sums the phase times (etcd builds three modules) and records the binaries' sizes.
finish_info() {
  awk -F= '{s[$1]+=$2} END {for (k in s) print k "=" s[k]}' "$info.times" | sort >>"$info"
  rm -f "$info.times"
  (cd "$1" && find . -maxdepth 1 -type f -perm -u+x -printf 'size %f=%s\n' | sort) >>"$info"
}

kubernetes_binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

build_kubernetes() {
  local out=$1 version=$2 mod src from ldflags="-s -w" pkg key value major minor
  mod=k8s.io/kubernetes@v$version; src=$out/src
  start_info "$out" "$mod"
  from=$(module_dir "$mod")
  writable_copy "$from" "$src"
  # go.work lists the staging directories, which the zip lacks; vendor/ holds only an OWNERS file but
  # would switch go to vendor mode.
  rm -rf "$src/go.work" "$src/go.work.sum" "$src/vendor"
  # Staging modules are released as v0.<minor>.<patch> of the same Kubernetes version.
  pin_local_replaces "$src" "v0.${version#1.}"
  IFS=. read -r major minor _ <<<"$version"
  # What hack/lib/version.sh stamps, into both version packages (kubectl reads client-go's). The commit
  # is unknown offline (the proxy reports none), so gitCommit keeps its placeholder.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    for key in gitVersion=v$version gitMajor=$major gitMinor=$minor gitTreeState=clean \
      "buildDate=$(module_time "$mod")"; do
      value=${key#*=}; key=${key%%=*}
      ldflags+=" -X $pkg.$key=$value"
    done
  done
  go_build "$src" "$out/" "$ldflags" "${kubernetes_binaries[@]/#/./cmd/}"
  rm -rf "$src"
  local b
  for b in "${kubernetes_binaries[@]}"; do
    if [[ $b == kubectl ]]; then
      check_version "Client Version: v$version" "$out/kubectl" version --client
    else
      check_version "Kubernetes v$version" "$out/$b" --version
    fi
  done
  finish_info "$out"
}

# etcd's own build compiles etcd in server/, etcdctl in etcdctl/, etcdutl in etcdutl/, each its own module
# at the same release; the repository-root module (whose main is the same one-line wrapper) stops at
# v3.6.8 on the proxy. The Git SHA it stamps is unknown offline; `etcd --version` says "Not provided".
build_etcd() {
  local out=$1 version=$2 name src from
  start_info "$out" "go.etcd.io/etcd/{server,etcdctl,etcdutl}/v3@v$version"
  for name in server etcdctl etcdutl; do
    src=$out/src/$name
    from=$(module_dir "go.etcd.io/etcd/$name/v3@v$version")
    writable_copy "$from" "$src"
    pin_local_replaces "$src"
    if [[ $name == server ]]; then
      go_build "$src" "$out/etcd" "-s -w" .
    else
      go_build "$src" "$out/$name" "-s -w" .
    fi
  done
  rm -rf "$out/src"
  check_version "etcd Version: $version" "$out/etcd" --version
  check_version "etcdctl version: $version" "$out/etcdctl" version
  check_version "etcdutl version: $version" "$out/etcdutl" version
  finish_info "$out"
}

# cri-tools' Makefile stamps pkg/version.Version; releases print it with the leading v.
build_crictl() {
  local out=$1 version=$2 mod=sigs.k8s.io/cri-tools src=$1/src from
  start_info "$out" "$mod@v$version"
  from=$(module_dir "$mod@v$version")
  writable_copy "$from" "$src"
  go_build "$src" "$out/" "-s -w -X $mod/pkg/version.Version=v$version" ./cmd/crictl
  rm -rf "$src"
  check_version "crictl version v$version" "$out/crictl" --version
  finish_info "$out"
}

# The plugins a bridge pod network needs: bridge and host-local for pod IPs, loopback for every sandbox's
# lo, portmap for hostPort.
cni_plugins=(main/bridge ipam/host-local main/loopback meta/portmap)

build_cni_plugins() {
  local out=$1 version=$2 mod=github.com/containernetworking/plugins src=$1/src from p
  start_info "$out" "$mod@v$version"
  from=$(module_dir "$mod@v$version")
  writable_copy "$from" "$src"
  go_build "$src" "$out/" "-s -w -X $mod/pkg/utils/buildversion.BuildVersion=v$version" \
    "${cni_plugins[@]/#/./plugins/}"
  rm -rf "$src"
  # Run without CNI_COMMAND, a plugin prints "CNI <name> plugin <version>".
  for p in "${cni_plugins[@]##*/}"; do check_version "CNI $p plugin v$version" "$out/$p"; done
  finish_info "$out"
}

# CoreDNS's Makefile builds with -tags grpcnotrace and stamps coremain.GitCommit, unknown offline; the
# version itself is a constant in coremain.
build_coredns() {
  local out=$1 version=$2 mod=github.com/coredns/coredns src=$1/src from
  start_info "$out" "$mod@v$version"
  from=$(module_dir "$mod@v$version")
  writable_copy "$from" "$src"
  tags=grpcnotrace go_build "$src" "$out/coredns" "-s -w" .
  rm -rf "$src"
  check_version "CoreDNS-$version" "$out/coredns" -version
  finish_info "$out"
}

declare -A builders=(
  [kubernetes]=build_kubernetes [etcd]=build_etcd [crictl]=build_crictl
  [cni-plugins]=build_cni_plugins [coredns]=build_coredns
)

check=false
if [[ ${1:-} == --check ]]; then check=true; shift; fi
specs=("$@")
if ((${#specs[@]} == 0)); then
  # What a default stack and the tests need: the first (default) version of each component.
  specs=(
    "etcd@$(pin v.cluster.etcd.0)" "kubernetes@$(pin v.cluster.kubernetes.0)"
    "crictl@$(pin v.cluster.crictl)" "cni-plugins@$(pin v.cluster.cniPlugins)"
  )
fi

for spec in "${specs[@]}"; do
  component=${spec%@*}; version=${spec#*@}; version=${version#v}
  if [[ $spec != *@* || -z ${builders[$component]:-} || ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    say "usage: $0 [--check] [component@version ...]; components: ${!builders[*]}"; exit 2
  fi
  if $check; then
    [[ -d $store/$component-v$version ]] || exit 1
    continue
  fi
  command -v go >/dev/null || { say "Go is required to build the cluster's binaries (see README)"; exit 1; }
  artifact "$component" "$version" "${builders[$component]}"
done
