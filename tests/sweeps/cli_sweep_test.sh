#!/bin/bash
# End-to-end test of `mad sweep plan` and `mad sweep run`: the full protocol plans 396 runs; a runner
# killed with SIGKILL mid-sweep and run again records every run exactly once, retrains nothing finished,
# and leaves an intact database; two concurrent runners lose and duplicate nothing; Ctrl-C stops cleanly
# with exit code 130 and the sweep then resumes; bad input is a one-line error.
# Usage: cli_sweep_test.sh PATH_TO_MAD
set -u
source "$(dirname "$0")/../cli/common.sh" "$1"
configs="$(dirname "$0")/../../configs/sweeps"

sql() { sqlite3 -batch "$1" "$2"; }

cp "$(dirname "$0")/tiny_sweep.yml" "$tmp/spec.yml"  # 12 runs of about a second
runs=12

# ---- plan ------------------------------------------------------------------------------------------
expect_ok "plan mad-transformer" "$mad" sweep plan "$configs/mad-transformer.yml"
grep -q "= 396 runs" "$tmp/out" || fail "the full protocol does not plan 396 runs: $(head -1 "$tmp/out")"
expect_ok "plan --json" "$mad" sweep plan "$configs/mad-transformer.yml" --json
grep -q '"runs": 396' "$tmp/out" || fail "plan --json: $(cat "$tmp/out")"
expect_ok "plan shard" "$mad" sweep plan "$configs/mad-transformer.yml" --shard 2/4 --json
grep -q '"runs": 99' "$tmp/out" || fail "shard 2/4 of 396 is not 99 runs: $(cat "$tmp/out")"
expect_ok "plan quick" "$mad" sweep plan "$configs/quick.yml"
grep -q "= 12 runs" "$tmp/out" || fail "quick.yml does not plan 12 runs"

# ---- SIGKILL in the middle, then resume --------------------------------------------------------------
db="$tmp/kill.db"
"$mad" sweep run "$tmp/spec.yml" --db "$db" --jobs 2 --quiet >"$tmp/kill.out" 2>&1 &
runner=$!
for _ in $(seq 1 600); do
  done_runs=$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'completed'" 2>/dev/null || echo 0)
  [ "${done_runs:-0}" -ge 3 ] && break
  sleep 0.1
done
kill -9 "$runner"
wait "$runner" 2>/dev/null
sleep 0.5
before=$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'completed'")
[ "$before" -lt "$runs" ] || fail "the runner finished before it was killed; the runs are too short to test a kill"
pgrep -f "sweep run $tmp/spec.yml" >/dev/null && fail "workers outlived the killed runner"
sql "$db" "SELECT key, finished_at FROM runs WHERE status = 'completed' ORDER BY key" >"$tmp/finished_before"
[ "$(sql "$db" "PRAGMA integrity_check")" = "ok" ] || fail "integrity check after kill -9"

expect_ok "resume after kill -9" "$mad" sweep run "$tmp/spec.yml" --db "$db" --jobs 2 --quiet
grep -q "$((runs - before)) trained" "$tmp/out" || fail "resume trained other than the $((runs - before)) missing runs: $(cat "$tmp/out")"
[ "$(sql "$db" "PRAGMA integrity_check")" = "ok" ] || fail "integrity check after resume"
[ "$(sql "$db" "SELECT count(*), count(DISTINCT key), sum(status = 'completed') FROM runs")" = "$runs|$runs|$runs" ] ||
  fail "after resume: runs/distinct/completed = $(sql "$db" "SELECT count(*), count(DISTINCT key), sum(status = 'completed') FROM runs")"
[ "$(sql "$db" "SELECT count(*) FROM sweep_runs WHERE sweep = 'tiny'")" = "$runs" ] || fail "sweep membership"
[ "$(sql "$db" "SELECT count(*) FROM run_metrics")" = "$runs" ] || fail "final metrics rows"
# The runs finished before the kill were not trained again.
while IFS='|' read -r key finished; do
  [ "$(sql "$db" "SELECT finished_at FROM runs WHERE key = '$key'")" = "$finished" ] || fail "run $key was trained twice"
done <"$tmp/finished_before"
expect_ok "a finished sweep runs nothing" "$mad" sweep run "$tmp/spec.yml" --db "$db" --quiet
grep -q " 0 trained .* $runs already done" "$tmp/out" || fail "rerun of a finished sweep: $(cat "$tmp/out")"
# The score table reads the resumed database (its numbers are compared with a second sweep below).
expect_ok "scores" "$mad" scores --db "$db" --format csv

# ---- two concurrent runners --------------------------------------------------------------------------
db2="$tmp/concurrent.db"
"$mad" sweep run "$tmp/spec.yml" --db "$db2" --jobs 1 --quiet >"$tmp/c1.out" 2>&1 &
first=$!
"$mad" sweep run "$tmp/spec.yml" --db "$db2" --jobs 1 --quiet >"$tmp/c2.out" 2>&1 &
second=$!
wait "$first" || fail "first concurrent runner: $(cat "$tmp/c1.out")"
wait "$second" || fail "second concurrent runner: $(cat "$tmp/c2.out")"
trained=$(( $(grep -o "runs: [0-9]* trained" "$tmp/c1.out" | grep -o "[0-9]* trained" | cut -d' ' -f1) +
            $(grep -o "runs: [0-9]* trained" "$tmp/c2.out" | grep -o "[0-9]* trained" | cut -d' ' -f1) ))
[ "$trained" -eq "$runs" ] || fail "two runners trained $trained runs for $runs: $(cat "$tmp/c1.out" "$tmp/c2.out")"
[ "$(sql "$db2" "SELECT count(*), sum(status = 'completed') FROM runs")" = "$runs|$runs" ] ||
  fail "concurrent runners lost results: $(sql "$db2" "SELECT status, count(*) FROM runs GROUP BY status")"
# Both databases hold the same metrics for the same keys (determinism across processes and schedules).
[ "$(sql "$db" "SELECT key, test_acc, test_loss FROM run_metrics JOIN runs ON key = run_key ORDER BY key")" = \
  "$(sql "$db2" "SELECT key, test_acc, test_loss FROM run_metrics JOIN runs ON key = run_key ORDER BY key")" ] ||
  fail "the same runs gave different metrics in two sweeps"

# ---- Ctrl-C ------------------------------------------------------------------------------------------
db3="$tmp/interrupt.db"
"$mad" sweep run "$tmp/spec.yml" --db "$db3" --jobs 2 >"$tmp/int.out" 2>"$tmp/int.err" &
runner=$!
for _ in $(seq 1 600); do
  [ "$(sql "$db3" "SELECT count(*) FROM runs WHERE status = 'completed'" 2>/dev/null || echo 0)" -ge 1 ] && break
  sleep 0.1
done
kill -INT "$runner"
wait "$runner"
code=$?
[ "$code" -eq 130 ] || fail "Ctrl-C: exit code $code, expected 130"
grep -q "interrupted" "$tmp/int.out" || fail "Ctrl-C: no 'interrupted' message: $(cat "$tmp/int.out")"
[ "$(sql "$db3" "SELECT count(*) FROM runs WHERE status = 'running'")" = "0" ] || fail "Ctrl-C left runs 'running'"
expect_ok "resume after Ctrl-C" "$mad" sweep run "$tmp/spec.yml" --db "$db3" --quiet
[ "$(sql "$db3" "SELECT count(*), sum(status = 'completed') FROM runs")" = "$runs|$runs" ] || fail "resume after Ctrl-C"

# ---- bad input ---------------------------------------------------------------------------------------
printf 'name: x\narchitectures: {t: [swiglu]\n' >"$tmp/broken.yml"
expect_error "malformed YAML" "broken.yml" "$mad" sweep run "$tmp/broken.yml" --db "$tmp/x.db"
printf 'name: x\narchitectures: {t: {layers: [swiglu], heads: 2}}\n' >"$tmp/field.yml"
expect_error "unknown architecture field" "heads" "$mad" sweep plan "$tmp/field.yml"
printf 'name: x\narchitectures: {t: [swiglu]}\nlr: []\n' >"$tmp/empty.yml"
expect_error "empty grid" "'lr' is empty" "$mad" sweep plan "$tmp/empty.yml"
printf 'name: x\narchitectures: {t: [swiglu]}\ntasks: [copying]\n' >"$tmp/task.yml"
expect_error "unknown task" "unknown task 'copying'" "$mad" sweep plan "$tmp/task.yml"
expect_error "missing spec" "no such sweep spec" "$mad" sweep plan "$tmp/none.yml"
expect_error "bad shard" "--shard" "$mad" sweep plan "$tmp/spec.yml" --shard 3/2
sql "$tmp/newer.db" "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT); INSERT INTO schema_version VALUES (99, 'x');"
expect_error "newer schema" "newer" "$mad" sweep run "$tmp/spec.yml" --db "$tmp/newer.db"
echo "not a database" >"$tmp/text.db"
expect_error "not a database" "text.db" "$mad" sweep run "$tmp/spec.yml" --db "$tmp/text.db"
[ -e "$tmp/x.db" ] && fail "a failed spec left a database behind"

finish cli_sweep
