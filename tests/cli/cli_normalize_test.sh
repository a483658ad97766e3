#!/bin/bash
# End-to-end test of `mad normalize` and of an iso_state sweep plan: the printed YAML loads with --arch and
# `mad describe` confirms the target state; bad input is a one-line error. Usage: cli_normalize_test.sh MAD
set -u
source "$(dirname "$0")/common.sh" "$1"

cat >"$tmp/hybrid.yml" <<'YAML'
dim: 128
layers: [mlstm, swiglu, mh-gated-linear-attention, swiglu, mh-attention, swiglu]
YAML
expect_ok "normalize" "$mad" normalize --arch "$tmp/hybrid.yml" --state 4096 --params 700000
cp "$tmp/out" "$tmp/iso.yml"
grep -q "^# fixed state: .* -> 4096 .*exact" "$tmp/iso.yml" || fail "normalize summary: $(cat "$tmp/iso.yml")"
grep -q "grows with the sequence" "$tmp/iso.yml" || fail "normalize does not flag the attention layer"
expect_ok "describe the normalised spec" "$mad" describe --arch "$tmp/iso.yml" --json
# Attention's KV cache (2 * 128 * 128 at the default length) is outside the target.
grep -q '"total_state": 36864' "$tmp/out" || fail "describe of the normalised spec: $(cat "$tmp/out")"
params=$(sed -E 's/.*"total_params": ([0-9]+).*/\1/' "$tmp/out")
[ $(( params > 686000 && params < 714000 )) -eq 1 ] || fail "parameters $params not within 2% of 700000"

expect_ok "normalize -o" "$mad" normalize --arch "$tmp/hybrid.yml" --state 4100 -o "$tmp/near.yml"
grep -q "NOT reachable" "$tmp/err" || grep -q "exact" "$tmp/err" || fail "normalize -o prints no summary: $(cat "$tmp/err")"

expect_usage "state 0" "--state: must be an integer >= 1" "$mad" normalize --arch "$tmp/hybrid.yml" --state 0
printf 'layers: [mh-attention, swiglu]\n' >"$tmp/transformer.yml"
expect_error "no fixed-state mixer" "no fixed-state sequence mixer" "$mad" normalize --arch "$tmp/transformer.yml" --state 4096

cat >"$tmp/sweep.yml" <<YAML
name: iso
architectures:
  hybrid: {file: hybrid.yml}
  gla: [mh-gated-linear-attention, swiglu, mh-gated-linear-attention, swiglu]
settings: [{task: in-context-recall}]
iso_state: 2048
YAML
expect_ok "sweep plan with iso_state" "$mad" sweep plan "$tmp/sweep.yml"
grep -q "^gla .* 4096 -> 2048" "$tmp/out" || fail "sweep plan does not show the normalised state: $(cat "$tmp/out")"
printf 'name: bad\narchitectures: {t: [mh-gated-linear-attention]}\niso_state: -1\n' >"$tmp/bad.yml"
expect_error "iso_state -1" "bad.yml:3" "$mad" sweep plan "$tmp/bad.yml"

finish cli_normalize
