# shellcheck shell=bash
# What the project's builders share: lab/toolchain/build.sh (the Pulumi toolchain), lab/toolchain/kubernetes.sh
# (the cluster's binaries) and lab/images/oci/build-images.sh (the images). Functions, and the pins table
# that load_pins fills; sourcing it does nothing else. The sourcing script defines say and runs under
# set -euo pipefail.

declare -gA pins

# load_pins <versions.json>: every pinned version, read once: one node start per lookup cost about a second
# of every ./rwk command.
load_pins() {
  local path value
  # shellcheck disable=SC2016 # a JavaScript template string, not shell
  while IFS=$'\t' read -r path value; do pins[$path]=$value; done < <(node -e '
    const walk = (o, p) => Object.entries(o).forEach(([k, x]) =>
      typeof x === "object" && x !== null ? walk(x, `${p}.${k}`) : console.log(`${p}.${k}\t${x}`));
    walk(require(process.argv[1]), "v");' "$1")
}

# pin <path>: one value of versions.json, e.g. `pin v.plugins.tls.version`, `pin v.cluster.etcd.0`.
pin() { printf '%s' "${pins[$1]?versions.json has no $1}"; }

# module_dir <module>@<version>: downloads a module through the proxy and prints its read-only cache dir.
# Run outside any module, so that no go.mod (and no GOFLAGS of the caller) takes part.
module_dir() {
  local json
  json=$(cd / && GOFLAGS='' go mod download -json "$1") || {
    say "go mod download $1 failed:"; printf '%s\n' "$json" >&2; return 1; }
  node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));if(j.Error){console.error(j.Error);process.exit(1)}process.stdout.write(j.Dir)' <<<"$json"
}

# writable_copy <src> <dst>: module cache dirs are read-only; upstream builds need to add files beside them.
writable_copy() { rm -rf "$2"; mkdir -p "$(dirname "$2")"; cp -r "$1" "$2"; chmod -R u+w "$2"; }

# build_once <dir> <log> <builder> [args...]: unless <dir> exists, runs `<builder> <tmp> [args...]` with its
# output in <log> and moves <tmp> to <dir>. Under a lock beside <dir>, so that two runs (./rwk and a CI job,
# say) never build the same artifact twice; any tmp dir found under the lock is what a killed run left.
# Sets `built` to true when it built, false when <dir> was there; on failure shows the log's tail.
build_once() {
  local dir=$1 log=$2 builder=$3 lock tmp=$1.tmp.$$
  shift 3
  built=false
  [[ -d $dir ]] && return 0
  exec {lock}>"$(dirname "$dir")/.$(basename "$dir").lock"
  flock "$lock"
  if [[ ! -d $dir ]]; then
    rm -rf "$dir".tmp.*
    mkdir -p "$tmp"
    # In the background, not as an `if` condition, where bash would switch off set -e inside the builder.
    "$builder" "$tmp" "$@" >"$log" 2>&1 &
    if ! wait $!; then
      say "FAILED building $(basename "$dir"). Last lines of its log ($log):"
      tail -n 25 "$log" >&2
      rm -rf "$tmp"
      exec {lock}>&-
      return 1
    fi
    mv -T "$tmp" "$dir"
    # shellcheck disable=SC2034 # the caller's, as the header says
    built=true
  fi
  exec {lock}>&-
}
