#!/usr/bin/env bash
# Gives this project the real Pulumi engine with no internet: the CLI, the nodejs language host and the
# resource plugins pinned in versions.json, built from the Go module proxy once, cached outside the
# checkout, and registered so the engine never tries to download anything.
#
#   lab/toolchain/build.sh          build what is missing, register plugins, print the bin dir
#   lab/toolchain/build.sh --check  exit 0 only if everything is already built and registered
#
# Cache layout (keyed by version and, for our own sources, by a hash of those sources):
#   $RWK_CACHE/toolchain/<artifact>-<key>/<binary>
#   $RWK_CACHE/toolchain/bin-<versions hash>/    symlinks put on PATH by ./rwk
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${RWK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/real-world-kubernetes}
store=$cache/toolchain
log_dir=$store/logs
mkdir -p "$store" "$log_dir"

# Builds must never fetch a Go toolchain or reach anything but the module proxy.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

say() { printf '[toolchain] %s\n' "$*" >&2; }
# shellcheck source=lab/toolchain/lib.sh
. "$root/lab/toolchain/lib.sh"
load_pins "$root/versions.json"
hash_of() { (cd "$root" && find "$@" -type f ! -name '*_test.go' -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-12; }

# artifact <name> <key> <builder>: runs <builder> <outdir> unless <name>-<key> is cached; prints the dir.
artifact() {
  local started=$SECONDS built
  build_once "$store/$1-$2" "$log_dir/$1-$2.log" "$3"
  if $built; then say "built $1 ($2) in $((SECONDS - started)) s"; fi
  printf '%s\n' "$store/$1-$2"
}

# apply_patches <patch dir> <src>: our *.patch files (part of the artifact's cache key) on an upstream module
# copy. git, not patch(1), which Debian does not always install; the ceiling keeps git from finding a
# repository above the copy.
apply_patches() {
  local p
  for p in "$root/$1"/*.patch; do
    (cd "$2" && GIT_CEILING_DIRECTORIES=$(dirname "$2") git apply "$p") || return 1
  done
}

build_cli() {
  local out=$1 v src
  v=$(pin v.pulumi); src=$out/src
  writable_copy "$(module_dir "github.com/pulumi/pulumi/pkg/v3@v$v")" "$src/pkg"
  # pkg/go.mod replaces the sdk with ../sdk: put the same release's sdk there.
  writable_copy "$(module_dir "github.com/pulumi/pulumi/sdk/v3@v$v")" "$src/sdk"
  (cd "$src/pkg" && go build -trimpath -o "$out/pulumi" \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" ./cmd/pulumi)
  rm -rf "$src"
}

build_language_host() {
  local out=$1 v src
  v=$(pin v.languageHost.version); src=$out/src
  writable_copy "$(module_dir "$(pin v.languageHost.sdkModule)@v$v")" "$src"
  apply_patches lab/toolchain/language-host "$src" || return 1
  (cd "$src" && GOFLAGS=-mod=mod go build -trimpath -o "$out/pulumi-language-nodejs" \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" ./nodejs/cmd/pulumi-language-nodejs)
  rm -rf "$src"
}

# The SDK ships the dynamic-provider plugin as a shell script that starts node and never checks on the
# engine; ours does the same and also stops node (and what it started) when the engine goes away.
build_dynamic_provider() {
  (cd "$root/lab/toolchain/dynamic-provider" && go build -trimpath -o "$1/pulumi-resource-pulumi-nodejs" .)
}

build_command() {
  local out=$1 v
  v=$(pin v.plugins.command.version)
  (cd "$root/$(pin v.plugins.command.source)" && go build -trimpath -o "$out/pulumi-resource-command" \
    -ldflags "-X main.version=$v" .)
}

build_bridged() {
  local out=$1 name=$2 v
  v=$(pin "v.plugins.$name.version")
  (cd "$root/$(pin "v.plugins.$name.source")" && go build -trimpath -o "$out/pulumi-resource-$name" \
    -ldflags "-X main.Version=$v" "./cmd/pulumi-resource-$name")
}
build_tls() { build_bridged "$1" tls; }
build_random() { build_bridged "$1" random; }

build_kubernetes() {
  local out=$1 v mod src
  v=$(pin v.plugins.kubernetes.version); mod=$(pin v.plugins.kubernetes.module); src=$out/src
  writable_copy "$(module_dir "$mod@$(pin v.plugins.kubernetes.moduleVersion)")" "$src/provider"
  # provider/go.mod replaces its sdk with ../sdk.
  writable_copy "$(module_dir "github.com/pulumi/pulumi-kubernetes/sdk/v4@$(pin v.plugins.kubernetes.sdkModuleVersion)")" "$src/sdk"
  apply_patches lab/toolchain/kubernetes-provider "$src/provider" || return 1
  # What upstream's `go generate` does: embed the schema stamped with the release version.
  (cd "$src/provider/cmd/pulumi-resource-kubernetes" && VERSION=$v go run generate.go)
  (cd "$src/provider" && GOFLAGS=-mod=mod go build -trimpath -o "$out/pulumi-resource-kubernetes" \
    -ldflags "-X $mod/pkg/version.Version=$v" ./cmd/pulumi-resource-kubernetes)
  rm -rf "$src"
}

# use_from_path <binary> <expected version output>: reuse a matching binary the user already has.
use_from_path() {
  local bin
  bin=$(command -v "$1" 2>/dev/null) || return 1
  [[ $("$bin" version 2>/dev/null) == "$2" ]] || return 1
  printf '%s\n' "$(dirname "$bin")"
}

plugins_dir=${PULUMI_HOME:-$HOME/.pulumi}/plugins
plugin_names=(command tls random kubernetes)
# The bin dir follows the toolchain's own pins, not the cluster's versions beside them in versions.json.
versions_key=$(
  {
    pin v.pulumi; echo
    pin v.languageHost.version; echo
    for name in "${plugin_names[@]}"; do pin "v.plugins.$name.version"; echo; done
  } | sha256sum | cut -c1-12
)
bin=$store/bin-$versions_key

# Every artifact's cache key, computed without building anything.
bridged_key=$(hash_of "$(pin v.plugins.tls.source)")
declare -A key=(
  [pulumi]="v$(pin v.pulumi)"
  [pulumi-language-nodejs]="v$(pin v.languageHost.version)-$(hash_of lab/toolchain/language-host)"
  [pulumi-resource-pulumi-nodejs]="$(hash_of lab/toolchain/dynamic-provider)"
  [pulumi-resource-command]="v$(pin v.plugins.command.version)-$(hash_of "$(pin v.plugins.command.source)")"
  [pulumi-resource-tls]="v$(pin v.plugins.tls.version)-$bridged_key"
  [pulumi-resource-random]="v$(pin v.plugins.random.version)-$bridged_key"
  [pulumi-resource-kubernetes]="v$(pin v.plugins.kubernetes.version)-$(hash_of lab/toolchain/kubernetes-provider)"
)

# registered <name>: the engine's plugin cache holds exactly this build under the pinned version.
registered() {
  local name=$1 v
  v=$(pin "v.plugins.$name.version")
  cmp -s "$plugins_dir/resource-$name-v$v/pulumi-resource-$name" \
    "$store/pulumi-resource-$name-${key[pulumi-resource-$name]}/pulumi-resource-$name"
}

# placed <name>: the bin dir holds exactly the current build of one of our artifacts.
placed() { cmp -s "$bin/$1" "$store/$1-${key[$1]}/$1"; }

if [[ ${1:-} == --check ]]; then
  [[ -x $bin/pulumi ]] && placed pulumi-language-nodejs && placed pulumi-resource-pulumi-nodejs || exit 1
  for name in "${plugin_names[@]}"; do registered "$name" || exit 1; done
  exit 0
fi

command -v go >/dev/null || { say "Go is required to build the toolchain (see README)"; exit 1; }
started=$SECONDS
mkdir -p "$bin"
# place <file>: hard links, because the CLI resolves its own path and warns unless the language host and
# the dynamic-provider script sit in the same directory as the real binary.
place() {
  [[ $1 -ef $bin/${1##*/} ]] && return
  ln -f "$1" "$bin/" 2>/dev/null || cp -f "$1" "$bin/"
}
if dir=$(use_from_path pulumi "${key[pulumi]}"); then
  say "using pulumi ${key[pulumi]} found on PATH in $dir"
else
  dir=$(artifact pulumi "${key[pulumi]}" build_cli)
fi
place "$dir/pulumi"
dir=$(artifact pulumi-language-nodejs "${key[pulumi-language-nodejs]}" build_language_host)
place "$dir/pulumi-language-nodejs"
dir=$(artifact pulumi-resource-pulumi-nodejs "${key[pulumi-resource-pulumi-nodejs]}" build_dynamic_provider)
place "$dir/pulumi-resource-pulumi-nodejs"

# Registering copies each plugin into $PULUMI_HOME/plugins under its exact version, which is where the
# engine looks before it would ever try to download one.
for name in "${plugin_names[@]}"; do
  dir=$(artifact "pulumi-resource-$name" "${key[pulumi-resource-$name]}" "build_$name")
  if ! registered "$name"; then
    v=$(pin "v.plugins.$name.version")
    say "registering resource plugin $name $v"
    "$bin/pulumi" plugin install resource "$name" "$v" --reinstall --file "$dir/pulumi-resource-$name" >&2
  fi
done
say "toolchain ready in $((SECONDS - started)) s"
printf '%s\n' "$bin"
