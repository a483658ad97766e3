#!/bin/bash
# Integration test of `mad sweep run --backend slurm` on a single-node Slurm started here: a small sweep
# through a job array and a merge job holds every run exactly once with the same scores as a local run of
# the same sweep; an array task cancelled mid-run publishes what it finished, and re-submitting completes
# the sweep while re-merging duplicates nothing. Exit code 77 (ctest: skipped) when Slurm is unavailable.
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
# Cancel task 2 once it has been running for a moment (it has 6 runs of about a second each).
for _ in $(seq 1 300); do
  squeue -h -j "${array}_2" -o %T 2>/dev/null | grep -q RUNNING && break
  sleep 0.2
done
sleep 2
scancel "${array}_2"
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

# ---- bad input ---------------------------------------------------------------------------------------
expect_error "bad backend" "--backend" "$mad" sweep run "$tmp/spec.yml" --db "$tmp/x.db" --backend pbs
expect_error "no sbatch" "sbatch was not found" env PATH=/nonexistent "$mad" sweep run "$tmp/spec.yml" --db "$tmp/y.db" --backend slurm

finish cluster_slurm
