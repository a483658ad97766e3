#!/bin/bash
# End-to-end test of `mad sweep plan` and `mad sweep run`: the full protocol plans 396 runs; a runner
# killed with SIGKILL mid-sweep and run again records every run exactly once, retrains nothing finished,
# and leaves an intact database; two concurrent runners lose and duplicate nothing; Ctrl-C stops cleanly
# with exit code 130 and the sweep then resumes; under successive halving, a SIGKILL mid-rung and 1 vs 3
# shards give the same survivors as one uninterrupted runner, pruned runs are never trained again or
# counted as a setting's best, and a grid sweep trains them on; bad input is a one-line error.
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
grep -q '"halving_cpu_seconds": null' "$tmp/out" || fail "a grid shard's plan estimates halving over split brackets"
# The issue's target: on the full protocol's plan, halving at most 40% of the grid's CPU time.
expect_ok "plan --json" "$mad" sweep plan "$configs/mad-transformer.yml" --json
ratio=$(sqlite3 :memory: "SELECT json_extract(readfile('$tmp/out'), '$.halving_cpu_seconds') * 100 /
                                 json_extract(readfile('$tmp/out'), '$.grid_cpu_seconds')")
[ "$(printf '%.0f' "$ratio")" -le 40 ] || fail "halving is estimated at $ratio% of the grid, above 40%"
expect_ok "plan mad-transformer-halving" "$mad" sweep plan "$configs/mad-transformer-halving.yml"
grep -q "^search: halving at epochs 10 30 80, keep 0.5$" "$tmp/out" && grep -q "^  halving: .*28% of the grid" "$tmp/out" &&
  grep -q "^leaves out early stopping" "$tmp/out" || fail "plan of the halving spec: $(cat "$tmp/out")"
expect_ok "plan --calibrate" "$mad" sweep plan "$tmp/spec.yml" --calibrate 1
grep -q "^estimate calibrated: [0-9]* training steps and an evaluation batch at each of 4 task shapes" "$tmp/out" ||
  fail "plan --calibrate: $(cat "$tmp/out")"
expect_usage "plan --calibrate 0" "--calibrate: must be a finite number > 0" "$mad" sweep plan "$tmp/spec.yml" --calibrate 0
expect_ok "plan quick" "$mad" sweep plan "$configs/quick.yml"
grep -q "= 6 runs" "$tmp/out" || fail "quick.yml does not plan 6 runs"

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

# ---- successive halving ------------------------------------------------------------------------------
# The tiny sweep's 4 brackets of 3 runs under halving at epochs 2 and 4 (keep 0.5): 3 -> 2 -> 1 run each.
cp "$tmp/spec.yml" "$tmp/halving.yml"
printf 'search: {method: halving, rungs: [2, 4], keep: 0.5}\n' >>"$tmp/halving.yml"
# Every run's outcome: key, status, epochs recorded, reported test loss (bit for bit).
outcomes() {
  sql "$1" "SELECT r.key, r.status, (SELECT count(*) FROM run_epochs e WHERE e.run_key = r.key), m.test_loss
            FROM runs r LEFT JOIN run_metrics m ON m.run_key = r.key ORDER BY r.key"
}
ref="$tmp/halving-ref.db"
expect_ok "halving sweep" "$mad" sweep run "$tmp/halving.yml" --db "$ref" --jobs 2 --quiet
[ "$(sql "$ref" "SELECT status, count(*) FROM runs GROUP BY status ORDER BY status" | tr '\n' ' ')" = "completed|4 pruned|8 " ] ||
  fail "halving: $(sql "$ref" "SELECT status, count(*) FROM runs GROUP BY status")"
[ "$(sql "$ref" "SELECT group_concat(n) FROM (SELECT (SELECT count(*) FROM run_epochs WHERE run_key = key) AS n FROM runs
                 WHERE status = 'pruned' GROUP BY n ORDER BY n)")" = "2,4" ] || fail "pruned runs did not stop at the rungs 2 and 4"
[ "$(sql "$ref" "SELECT count(*) FROM runs WHERE cpu_seconds > 0")" = "12" ] || fail "runs without CPU seconds"
[ -e "$ref.checkpoints" ] && [ -n "$(ls -A "$ref.checkpoints")" ] && fail "checkpoints left behind: $(ls "$ref.checkpoints")"
outcomes "$ref" >"$tmp/halving.ref"
expect_ok "halving status" "$mad" sweep status "$tmp/halving.yml" --db "$ref"
grep -q "12 runs in .*: 4 completed, 0 diverged, 8 pruned, 0 paused, 0 failed, 0 running, 0 missing" "$tmp/out" &&
  grep -q "^CPU time: [0-9.]* CPU-h spent; at most 0.00 CPU-h left under the halving search" "$tmp/out" ||
  fail "halving status: $(cat "$tmp/out")"
# The halving runs are the grid runs stopped early: their epochs equal the grid sweep's ($db) bit for bit.
[ "$(sql "$ref" "ATTACH '$db' AS g; SELECT count(*) FROM run_epochs h JOIN g.run_epochs ge USING (run_key, epoch)
                 WHERE h.test_loss = ge.test_loss AND h.train_loss = ge.train_loss")" = "$(sql "$ref" "SELECT count(*) FROM run_epochs")" ] ||
  fail "halving runs trained other epochs than the grid's"

# Pruned runs are never trained again, and never a setting's best (even with a perfect accuracy).
sql "$ref" "SELECT key, finished_at FROM runs WHERE status = 'pruned' ORDER BY key" >"$tmp/pruned_before"
expect_ok "halving rerun" "$mad" sweep run "$tmp/halving.yml" --db "$ref" --quiet
grep -q " 0 trained .* 0 pruned, 0 stretch(es) paused at a rung, 0 failed, 12 already done" "$tmp/out" ||
  fail "rerun of a finished halving sweep: $(cat "$tmp/out")"
[ "$(sql "$ref" "SELECT key, finished_at FROM runs WHERE status = 'pruned' ORDER BY key")" = "$(cat "$tmp/pruned_before")" ] ||
  fail "a pruned run was trained or recorded again"
"$mad" scores --db "$ref" --format csv >"$tmp/halving.scores"
cp "$ref" "$tmp/doctored.db"
sql "$tmp/doctored.db" "UPDATE run_metrics SET test_acc = 1.0 WHERE run_key IN (SELECT key FROM runs WHERE status = 'pruned')"
"$mad" scores --db "$tmp/doctored.db" --format csv >"$tmp/doctored.scores"
cmp -s "$tmp/halving.scores" "$tmp/doctored.scores" || fail "a pruned run counted as a setting's best"

# SIGKILL in the middle of a rung (some runs paused at it, others still training to it), then resume:
# the same survivors, pruned runs and metrics as the uninterrupted sweep.
kdb="$tmp/halving-kill.db"
"$mad" sweep run "$tmp/halving.yml" --db "$kdb" --jobs 2 --quiet >"$tmp/hkill.out" 2>&1 &
runner=$!
mid_rung=
for _ in $(seq 1 600); do
  [ "$(sql "$kdb" "SELECT count(*) FROM runs WHERE status = 'paused'" 2>/dev/null || echo 0)" -ge 2 ] &&
    [ "$(sql "$kdb" "SELECT count(*) FROM runs WHERE status = 'running'" 2>/dev/null || echo 0)" -ge 1 ] && mid_rung=1 && break
  sleep 0.05
done
kill -9 "$runner"
[ -n "$mid_rung" ] || fail "no moment with runs paused at a rung and others training was seen before the kill"
wait "$runner" 2>/dev/null
sleep 0.5
[ "$(sql "$kdb" "SELECT count(*) FROM runs WHERE status IN ('completed', 'pruned')")" -lt 12 ] ||
  fail "the halving runner finished before it was killed"
sql "$kdb" "SELECT key, finished_at FROM runs WHERE status IN ('pruned', 'completed') ORDER BY key" >"$tmp/hkill_before"
expect_ok "halving resume after kill -9" "$mad" sweep run "$tmp/halving.yml" --db "$kdb" --jobs 2 --quiet
[ "$(outcomes "$kdb")" = "$(cat "$tmp/halving.ref")" ] ||
  fail "halving after kill -9 differs from the uninterrupted sweep: $(diff <(outcomes "$kdb") "$tmp/halving.ref")"
while IFS='|' read -r key finished; do
  [ "$(sql "$kdb" "SELECT finished_at FROM runs WHERE key = '$key'")" = "$finished" ] || fail "run $key was redone after the kill"
done <"$tmp/hkill_before"
[ "$(sql "$kdb" "PRAGMA integrity_check")" = "ok" ] || fail "integrity check after a halving kill -9"

# Three shards, each into its own database (as Slurm tasks), merged: the same decisions as one runner.
for i in 1 2 3; do
  expect_ok "halving shard $i/3" "$mad" sweep run "$tmp/halving.yml" --db "$tmp/shard-$i.db" --shard "$i/3" --quiet
done
[ "$(sql "$tmp/shard-1.db" "SELECT count(*) FROM runs")" = "6" ] && [ "$(sql "$tmp/shard-3.db" "SELECT count(*) FROM runs")" = "3" ] ||
  fail "halving shards do not hold whole brackets (6, 3, 3 runs)"
expect_ok "merge halving shards" "$mad" results merge "$tmp/shards.db" "$tmp"/shard-[123].db
[ "$(outcomes "$tmp/shards.db")" = "$(cat "$tmp/halving.ref")" ] ||
  fail "3 shards decided otherwise than 1: $(diff <(outcomes "$tmp/shards.db") "$tmp/halving.ref")"

# A grid sweep over the halving database trains the pruned runs on to the end: the grid's scores.
cp "$ref" "$tmp/then-grid.db"
expect_ok "grid after halving" "$mad" sweep run "$tmp/spec.yml" --db "$tmp/then-grid.db" --quiet
grep -q "8 trained .* 4 already done" "$tmp/out" || fail "grid after halving: $(cat "$tmp/out")"
"$mad" scores --db "$tmp/then-grid.db" --format csv >"$tmp/then-grid.scores"
"$mad" scores --db "$db" --format csv >"$tmp/grid.scores"
cmp -s "$tmp/then-grid.scores" "$tmp/grid.scores" || fail "grid after halving scores otherwise than the grid"

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
for search in "rungs: [4, 2]|halving.yml:14: search.rungs\[1\]: rungs must increase" \
              "rungs: [2, 8]|search.rungs\[1\]: rung 8 is not below epochs (8)" \
              "keep: 1.5|search.keep: keep is the fraction of runs kept at each rung and must be in (0, 1)"; do
  cp "$tmp/spec.yml" "$tmp/bad-halving.yml"
  printf 'search: {method: halving, %s}\n' "${search%%|*}" >>"$tmp/bad-halving.yml"
  expect_error "halving ${search%%|*}" "${search#*|}" "$mad" sweep plan "$tmp/bad-halving.yml"
done
printf 'name: x\narchitectures: {t: [swiglu]}\nlr: [1.0e-3]\nweight_decay: [0.0]\nsearch: {method: halving}\n' >"$tmp/one.yml"
expect_error "halving a single-run grid" "one.yml:5: search.method: halving chooses among" "$mad" sweep plan "$tmp/one.yml"
sql "$tmp/newer.db" "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT); INSERT INTO schema_version VALUES (99, 'x');"
expect_error "newer schema" "newer" "$mad" sweep run "$tmp/spec.yml" --db "$tmp/newer.db"
echo "not a database" >"$tmp/text.db"
expect_error "not a database" "text.db" "$mad" sweep run "$tmp/spec.yml" --db "$tmp/text.db"
[ -e "$tmp/x.db" ] && fail "a failed spec left a database behind"

finish cli_sweep
