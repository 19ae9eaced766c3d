#!/usr/bin/env bash
# The cluster's parts built here: warm setup (everything cached) against cold builds of the default
# releases (lab/toolchain/kubernetes.sh) and of the images (lab/images/oci/build-images.sh), measured in
# the same run, per artifact.
#   bench/cluster.sh [--cold [--no-modules]]
#     --cold        empty artifact cache and Go build cache (the Go module cache, i.e. downloads, is kept):
#                   about 20 minutes on 2 cores
#     --no-modules  with --cold, an empty Go module cache too: every module downloaded again
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }

t=$(now)
lab/toolchain/kubernetes.sh >/dev/null
lab/images/oci/build-images.sh >/dev/null 2>&1
warm=$(since "$t")

printf '\ncluster binaries and images (%s cores)\n' "$(nproc)"
printf '  warm setup (kubernetes.sh + build-images.sh, all cached)   %6.1f s\n' "$warm"
[[ ${1:-} == --cold ]] || exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cold_env=(RWK_CACHE="$work/cache" GOCACHE="$work/gocache")
what="module cache kept"
if [[ ${2:-} == --no-modules ]]; then
  cold_env+=(GOMODCACHE="$work/gomodcache" GOFLAGS=-modcacherw)
  what="module cache empty too"
fi
t=$(now)
env "${cold_env[@]}" lab/toolchain/kubernetes.sh >"$work/binaries.log" 2>&1
binaries=$(since "$t")
t=$(now)
env "${cold_env[@]}" lab/images/oci/build-images.sh >"$work/images.log" 2>&1
images=$(since "$t")
printf '  cold binaries (%s)   %6.1f s\n' "$what" "$binaries"
grep -E '\] built ' "$work/binaries.log" | sed 's/^\[kubernetes\] /    /'
printf '  cold images (tool, go-runner and images)   %6.1f s\n' "$images"
grep -E '\] (built|[a-z].* MB)' "$work/images.log" | sed 's/^\[images\] /    /'
printf '  ratio cold / warm   %.0fx\n' "$(awk -v c="$binaries" -v i="$images" -v w="$warm" 'BEGIN { print (c + i) / w }')"
