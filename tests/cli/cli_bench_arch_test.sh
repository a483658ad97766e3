#!/usr/bin/env bash
# mad bench --arch FILE: an architecture file is timed like a registered workload, named SHAPE/@STEM; a
# missing file is a one-line error; several workloads run one child each. (Counts and names are checked, never
# times.)
source "$(dirname "$0")/common.sh"
arch="$(dirname "$0")/../../configs/architectures/mlstm-block-wired.yml"

expect_ok "bench --arch" "$mad" bench --arch "$arch" --steps 1 --warmup 0 --batch 2 --json --gemm-peak 1
grep -q '"workload": "icr-128/@mlstm-block-wired"' "$tmp/out" || fail "no icr-128/@mlstm-block-wired line: $(cat "$tmp/out")"
[ "$(grep -c '"workload"' "$tmp/out")" -eq 1 ] || fail "--arch alone should time icr-128 only: $(cat "$tmp/out")"
expect_ok "bench --arch at sc-256" "$mad" bench --arch "$arch" --workloads 'sc-256/@*' --steps 1 --warmup 0 --batch 1 --json --gemm-peak 1
grep -q '"workload": "sc-256/@mlstm-block-wired", .*"length": 256' "$tmp/out" || fail "sc-256 shape not used: $(cat "$tmp/out")"
# Several workloads run one child process each; without --batch each keeps the protocol's 128 (the parent
# once passed "--batch 0", which the child's option rejects).
expect_ok "bench, two workloads" "$mad" bench --workloads icr-128/mlp icr-128/swiglu --steps 1 --warmup 0 --json --gemm-peak 1
[ "$(grep -c '"batch": 128' "$tmp/out")" -eq 2 ] || fail "two workloads at batch 128 expected: $(cat "$tmp/out")"
"$mad" bench --arch "$tmp/missing.yml" >"$tmp/out" 2>"$tmp/err" && fail "a missing --arch file was accepted"
grep -q "missing.yml" "$tmp/err" || fail "the error does not name the file: $(cat "$tmp/err")"

finish cli_bench_arch
