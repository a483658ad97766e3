#!/bin/bash
# Integration test of `mad sweep run --backend slurm` on a single-node Slurm started here: a small sweep
# through a job array and a merge job holds every run exactly once with the same scores as a local run of
# the same sweep; an array task cancelled mid-run publishes what it finished, and re-submitting completes
# the sweep while re-merging duplicates nothing; a halving sweep through Slurm (cancelled task and
# re-submission included) makes the same decisions as a local one. Exit code 77 (ctest: skipped) when
# Slurm is unavailable.
# Usage: slurm_test.sh PATH_TO_MAD
set -u
mad=$(readlink -f "$1")
source "$(dirname "$0")/../cli/common.sh" "$mad"
source "$(dirname "$0")/start_slurm.sh" "$tmp/slurm"
# Not in a subshell: start_slurm exports SLURM_CONF for sbatch, squeue and scancel.
if ! start_slurm >"$tmp/start.log" 2>&1; then
  echo "SKIPPED: Slurm is unavailable here: $(tail -n 2 "$tmp/start.log")"
  stop_slurm
  exit 77
fi
trap 'stop_slurm; rm -rf "$tmp"' EXIT

sql() { sqlite3 -batch "$1" "$2"; }
# wait_for FILE SECONDS: until FILE exists.
wait_for() {
  for _ in $(seq 1 $(($2 * 5))); do [ -e "$1" ] && return 0; sleep 0.2; done
  return 1
}

# cancel_task_2_after ARRAY QUERY: cancels task 2 of the array job once QUERY on the database it is
# writing (the array script's node-local one, under TMPDIR) counts more than 0; a fixed delay raced
# with runs that got faster. Gives up waiting after a minute and cancels anyway.
export TMPDIR="$tmp/node"
mkdir -p "$TMPDIR"
cancel_task_2_after() {
  local task_db="$TMPDIR/mad-$1-2.db" n
  for _ in $(seq 1 600); do
    if [ -f "$task_db" ]; then
      n=$(sqlite3 -batch -readonly "$task_db" "$2" 2>/dev/null) && [ "${n:-0}" -gt 0 ] && break
    fi
    sleep 0.1
  done
  scancel "$1_2"
}

cp "$(dirname "$0")/../sweeps/tiny_sweep.yml" "$tmp/spec.yml"  # 12 runs of about a second
runs=12

# The reference: the same sweep run locally.
expect_ok "local sweep" "$mad" sweep run "$tmp/spec.yml" --db "$tmp/local.db" --quiet
"$mad" scores --db "$tmp/local.db" --format csv >"$tmp/local.scores"

# ---- a whole sweep through Slurm ---------------------------------------------------------------------
db="$tmp/cluster.db"
expect_ok "submit" "$mad" sweep run "$tmp/spec.yml" --db "$db" --backend slurm --array-size 3
grep -q "submitted array job" "$tmp/out" || fail "submit: $(cat "$tmp/out")"
job_dir=$(ls -d "$db.slurm"/*/ | head -1)
wait_for "$job_dir/merged" 300 || fail "the merge job did not finish: $(squeue 2>&1; cat "$job_dir"/logs/*.out)"
[ "$(ls "$job_dir/shards" | grep -c '\.db$')" -eq 3 ] || fail "not 3 published shards: $(ls "$job_dir/shards")"
[ "$(sql "$db" "SELECT count(*), count(DISTINCT key), sum(status = 'completed') FROM runs")" = "$runs|$runs|$runs" ] ||
  fail "merged database: $(sql "$db" "SELECT status, count(*) FROM runs GROUP BY status")"
[ "$(sql "$db" "PRAGMA integrity_check")" = "ok" ] || fail "integrity check"
"$mad" scores --db "$db" --format csv >"$tmp/cluster.scores"
cmp -s "$tmp/local.scores" "$tmp/cluster.scores" || fail "scores differ from the local run: $(diff "$tmp/local.scores" "$tmp/cluster.scores")"
expect_ok "status" "$mad" sweep status "$tmp/spec.yml" --db "$db"
grep -q "$runs completed" "$tmp/out" || fail "status: $(cat "$tmp/out")"
expect_ok "nothing to resubmit" "$mad" sweep run "$tmp/spec.yml" --db "$db" --backend slurm
grep -q "nothing to submit" "$tmp/out" || fail "re-submitting a finished sweep: $(cat "$tmp/out")"
# Merging the shards again adds nothing.
expect_ok "re-merge" "$mad" results merge "$db" "$job_dir"/shards/*.db
[ "$(sql "$db" "SELECT count(*) FROM runs")" = "$runs" ] || fail "re-merging duplicated runs"

# ---- an array task cancelled mid-run, then re-submission --------------------------------------------
db2="$tmp/cancel.db"
expect_ok "submit 2" "$mad" sweep run "$tmp/spec.yml" --db "$db2" --backend slurm --array-size 2
array=$(grep -o "array job [0-9]*" "$tmp/out" | grep -o "[0-9]*$")
job_dir=$(ls -d "$db2.slurm"/*/ | head -1)
# Cancel task 2 once it has finished a run (it has 6 runs of about half a second each on this machine).
cancel_task_2_after "$array" "SELECT count(*) FROM runs WHERE status = 'completed'"
wait_for "$job_dir/merged" 300 || fail "the merge job did not run after a cancelled task: $(cat "$job_dir"/logs/*.out)"
after_cancel=$(sql "$db2" "SELECT count(*) FROM runs WHERE status = 'completed'")
[ "$after_cancel" -lt "$runs" ] || fail "task 2 finished before it was cancelled; nothing was tested"
[ -f "$job_dir/shards/shard-2.db" ] || fail "the cancelled task did not publish what it finished"
expect_ok "re-submit" "$mad" sweep run "$tmp/spec.yml" --db "$db2" --backend slurm
grep -q "$((runs - after_cancel)) missing run" "$tmp/out" || fail "re-submission: $(cat "$tmp/out")"
job_dir2=$(ls -d "$db2.slurm"/*/ | tail -1)
wait_for "$job_dir2/merged" 300 || fail "the second merge did not finish: $(cat "$job_dir2"/logs/*.out)"
[ "$(sql "$db2" "SELECT count(*), count(DISTINCT key), sum(status = 'completed') FROM runs")" = "$runs|$runs|$runs" ] ||
  fail "after re-submission: $(sql "$db2" "SELECT status, count(*) FROM runs GROUP BY status")"
"$mad" scores --db "$db2" --format csv >"$tmp/cancel.scores"
cmp -s "$tmp/local.scores" "$tmp/cancel.scores" || fail "scores after re-submission differ from the local run"

# ---- successive halving through Slurm ---------------------------------------------------------------
# Whole brackets per task, each starting from base.db: the same survivors as a local run; a task
# cancelled mid-rung and a re-submission (resuming from the shared checkpoints) change nothing.
cp "$tmp/spec.yml" "$tmp/halving.yml"
printf 'search: {method: halving, rungs: [2, 4], keep: 0.5}\n' >>"$tmp/halving.yml"
outcomes() {
  sql "$1" "SELECT r.key, r.status, (SELECT count(*) FROM run_epochs e WHERE e.run_key = r.key), m.test_loss
            FROM runs r LEFT JOIN run_metrics m ON m.run_key = r.key ORDER BY r.key"
}
expect_ok "local halving" "$mad" sweep run "$tmp/halving.yml" --db "$tmp/hlocal.db" --quiet
hdb="$tmp/hcluster.db"
expect_ok "submit halving" "$mad" sweep run "$tmp/halving.yml" --db "$hdb" --backend slurm --array-size 3
job_dir=$(ls -d "$hdb.slurm"/*/ | head -1)
[ -f "$job_dir/base.db" ] || fail "halving submission without base.db"
wait_for "$job_dir/merged" 300 || fail "the halving merge job did not finish: $(cat "$job_dir"/logs/*.out)"
[ "$(outcomes "$hdb")" = "$(outcomes "$tmp/hlocal.db")" ] ||
  fail "halving through Slurm differs from the local run: $(diff <(outcomes "$hdb") <(outcomes "$tmp/hlocal.db"))"
expect_ok "nothing to resubmit (halving)" "$mad" sweep run "$tmp/halving.yml" --db "$hdb" --backend slurm
grep -q "nothing to submit" "$tmp/out" || fail "re-submitting a finished halving sweep: $(cat "$tmp/out")"

hdb2="$tmp/hcancel.db"
expect_ok "submit halving 2" "$mad" sweep run "$tmp/halving.yml" --db "$hdb2" --backend slurm --array-size 2
array=$(grep -o "array job [0-9]*" "$tmp/out" | grep -o "[0-9]*$")
job_dir=$(ls -d "$hdb2.slurm"/*/ | head -1)
cancel_task_2_after "$array" "SELECT count(*) FROM run_epochs"
wait_for "$job_dir/merged" 300 || fail "the halving merge did not run after a cancelled task: $(cat "$job_dir"/logs/*.out)"
expect_ok "re-submit halving" "$mad" sweep run "$tmp/halving.yml" --db "$hdb2" --backend slurm
if grep -q "nothing to submit" "$tmp/out"; then
  fail "task 2 finished before it was cancelled; nothing was tested"
else
  job_dir2=$(ls -d "$hdb2.slurm"/*/ | tail -1)
  wait_for "$job_dir2/merged" 300 || fail "the second halving merge did not finish: $(cat "$job_dir2"/logs/*.out)"
fi
[ "$(outcomes "$hdb2")" = "$(outcomes "$tmp/hlocal.db")" ] ||
  fail "halving after a cancelled task differs from the local run: $(diff <(outcomes "$hdb2") <(outcomes "$tmp/hlocal.db"))"

# ---- bad input ---------------------------------------------------------------------------------------
expect_error "bad backend" "--backend" "$mad" sweep run "$tmp/spec.yml" --db "$tmp/x.db" --backend pbs
expect_error "no sbatch" "sbatch was not found" env PATH=/nonexistent "$mad" sweep run "$tmp/spec.yml" --db "$tmp/y.db" --backend slurm

finish cluster_slurm
