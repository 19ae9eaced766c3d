#!/usr/bin/env bash
# The safety rules' cost: `pulumi preview` of the default stack's config (a new stack: nothing to reach,
# every resource to create) with the rwk-safety pack (policy/, as ./rwk adds it) against the same preview
# without it, alternated, 5 of each; prints both medians and their ratio.
#   ./rwk bench policy   (or bench/policy.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { print a - b }'; }
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

# ./rwk bench has set up the toolchain and its environment; run alone, the script asks ./rwk for it.
[[ -n ${RWK_CACHE:-} ]] || eval "$(./rwk env 2>/dev/null)"
export PULUMI_CONFIG_PASSPHRASE=bench
work=$(mktemp -d)
stack=bench-policy
trap 'rm -rf "$work" "$root/Pulumi.$stack.yaml"' EXIT
export PULUMI_BACKEND_URL=file://$work
pulumi stack init "$stack" --non-interactive >/dev/null 2>&1
plain=() pack=()
for _ in 1 2 3 4 5; do
  t=$(now)
  pulumi preview --stack "$stack" --non-interactive >/dev/null
  plain+=("$(since "$t")")
  t=$(now)
  pulumi preview --stack "$stack" --non-interactive --policy-pack policy --policy-pack-config policy-config.json >/dev/null
  pack+=("$(since "$t")")
done
p=$(median "${plain[@]}") s=$(median "${pack[@]}")
printf 'preview of the default stack (median of 5): with the safety rules %.1f s, without %.1f s: %.2fx (runs with: %s; without: %s)\n' \
  "$s" "$p" "$(awk -v a="$s" -v b="$p" 'BEGIN { print a / b }')" "${pack[*]}" "${plain[*]}"
