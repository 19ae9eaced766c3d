#!/usr/bin/env bash
# The offline toolchain: warm setup (everything cached) against a cold build (empty caches, same run
# optional: --cold, ~20 minutes on 2 cores), and the wall time of `pulumi preview` of the smoke stack.
#   bench/toolchain.sh [--cold]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { print a - b }'; }

# PATH without the pinned CLI (./rwk puts it there), or the cold build would reuse it instead of building it.
plain_path=$(tr ':' '\n' <<<"$PATH" | grep -v '/toolchain/bin-' | paste -sd:)
t=$(now)
bin=$(lab/toolchain/build.sh 2>/dev/null)
warm=$(since "$t")
export PATH=$bin:$PATH PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_CONFIG_PASSPHRASE=bench

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PULUMI_BACKEND_URL=file://$work/state
mkdir -p "$work/state"
(
  cd test/engine/smoke
  pulumi stack init bench >/dev/null
  pulumi up --yes --non-interactive >/dev/null
  previews=()
  for _ in 1 2 3 4 5; do
    t=$(now)
    pulumi preview --non-interactive --expect-no-changes >/dev/null
    previews+=("$(since "$t")")
  done
  pulumi destroy --yes --non-interactive >/dev/null
  pulumi stack rm --yes bench >/dev/null
  printf '%s\n' "${previews[@]}" | sort -n | sed -n 3p >"$work/preview-median"
  printf '%s ' "${previews[@]}" >"$work/previews"
)

cold=""
if [[ ${1:-} == --cold ]]; then
  # Empty toolchain cache, Go build cache and plugin home: only the Go module cache (downloads) is kept.
  t=$(now)
  PATH=$plain_path RWK_CACHE=$work/cache GOCACHE=$work/gocache PULUMI_HOME=$work/pulumi-home \
    lab/toolchain/build.sh >"$work/cold.log" 2>&1
  cold=$(since "$t")
  grep -E 'built .* in' "$work/cold.log" | sed 's/^/    /'
fi

printf '\noffline Pulumi toolchain (%s)\n' "$(nproc) cores"
printf '  warm setup (lab/toolchain/build.sh, all cached)   %6.1f s\n' "$warm"
[[ -n $cold ]] && printf '  cold build (empty caches, module cache kept)      %6.1f s  (ratio cold/warm %.0fx)\n' "$cold" "$(awk -v c="$cold" -v w="$warm" 'BEGIN { print c / w }')"
printf '  pulumi preview of the smoke stack (median of 5)   %6.2f s  [%s]\n' "$(cat "$work/preview-median")" "$(cat "$work/previews")"
