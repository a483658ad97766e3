#!/bin/bash
# Runs one fuzz target on its seed corpus: first replays every seed (regression inputs of fixed findings
# among them), then fuzzes with the remaining libFuzzer arguments (-max_total_time=20, -runs=1000000, ...).
# New inputs go to WORK/corpus, never into the checkout; a finding is written to WORK/ and fails the run.
# Usage: run_fuzz.sh FUZZ_TARGET SEED_DIR WORK_DIR [libFuzzer arguments...]
set -euo pipefail
target=$1 seeds=$2 work=$3
shift 3
mkdir -p "$work/corpus"
# Limits: a finding is also an allocation over 2 GiB (-malloc_limit_mb follows -rss_limit_mb) or one
# input running over 10 s.
limits=(-rss_limit_mb=2048 -timeout=10 -artifact_prefix="$work/")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
"$target" "${limits[@]}" -runs=0 "$seeds"
"$target" "${limits[@]}" "$@" "$work/corpus" "$seeds"
