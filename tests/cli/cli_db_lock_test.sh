#!/bin/bash
# Issue 19: a writer holding the database lock silenced `mad sweep run` for 60 s (docs say 5 s), and a run
# that finished while the lock was held was recorded failed and trained again: its training was lost.
# Now a wait is announced on stderr after a second, and a sweep's workers wait on past the 5 s timeout
# until the lock is free, keeping the trained run in memory. Another process (the sqlite3 shell) holds
# BEGIN EXCLUSIVE from the moment the run is claimed until the waiting line has been printed and 7 s more
# have passed (beyond the timeout); the run must end completed, recorded once.
# Usage: cli_db_lock_test.sh PATH_TO_MAD
set -u
source "$(dirname "$0")/common.sh" "$1"
command -v sqlite3 >/dev/null || { echo "skipped: needs the sqlite3 program"; exit 77; }
cat >"$tmp/sweep.yml" <<'YAML'
name: locked
architectures: {a: {dim: 16, layers: [swiglu]}}
protocol: baselines
tasks: [memorization]
lr: [1.0e-3]
weight_decay: [0.0]
epochs: 30
YAML
db=$tmp/l.db
line="waiting for the database lock (held by another process)"
# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds; fails after SECONDS.
wait_for() {
  local limit=$(( $1 * 10 )) i=0; shift
  until "$@"; do i=$((i + 1)); [ "$i" -lt "$limit" ] || return 1; sleep 0.1; done
}
"$mad" sweep run "$tmp/sweep.yml" --db "$db" >"$tmp/sweep.out" 2>"$tmp/sweep.err" &
sweep=$!
claimed() { [ "$(sqlite3 -cmd '.timeout 5000' "$db" "SELECT count(*) FROM runs WHERE status = 'running'" 2>/dev/null)" = 1 ]; }
wait_for 60 claimed || fail "the sweep never claimed its run: $(cat "$tmp/sweep.err")"
# The holder: a sqlite3 shell reading its commands from a pipe, so that the test decides when it commits.
mkfifo "$tmp/holder.in"
sqlite3 -cmd '.timeout 10000' "$db" <"$tmp/holder.in" >"$tmp/holder.out" 2>&1 &
holder=$!
exec 3>"$tmp/holder.in"
echo "BEGIN EXCLUSIVE; SELECT 'locked';" >&3
wait_for 20 grep -q locked "$tmp/holder.out" || fail "the sqlite3 shell did not get the lock: $(cat "$tmp/holder.out")"
# The worker finishes training, finds the lock held and says so (the old code waited silently).
wait_for 120 grep -q "$line" "$tmp/sweep.err" || fail "no '$line' on stderr: $(cat "$tmp/sweep.err")"
sleep 7  # past the 5 s busy timeout, after which the old code gave up on the run
echo "COMMIT;" >&3
exec 3>&-
wait "$holder"
wait "$sweep"; code=$?
[ "$code" -eq 0 ] || fail "sweep run: exit code $code ($(tail -n 3 "$tmp/sweep.err"))"
grep -q "1 trained (1 completed" "$tmp/sweep.out" || fail "the run was not completed by this sweep: $(cat "$tmp/sweep.out" "$tmp/sweep.err")"
grep -q "FAILED" "$tmp/sweep.err" && fail "the run was recorded failed: $(cat "$tmp/sweep.err")"
[ "$(sqlite3 "$db" "SELECT count(*) || ' ' || group_concat(status) FROM runs")" = "1 completed" ] ||
  fail "the database does not hold one completed run: $(sqlite3 "$db" "SELECT key, status, error FROM runs")"
[ "$(sqlite3 "$db" "SELECT count(*) FROM run_epochs")" = 30 ] || fail "the run's 30 epochs are not recorded"
# Run again: nothing is trained twice.
expect_ok "sweep run again" "$mad" sweep run "$tmp/sweep.yml" --db "$db"
grep -q "0 trained" "$tmp/out" || fail "the second sweep trained again: $(cat "$tmp/out")"

# A one-shot writer gives up after the 5 s timeout with one line naming the lock.
cp "$db" "$tmp/copy.db"
exec 3> >(sqlite3 "$db" >/dev/null 2>&1)
echo "BEGIN EXCLUSIVE;" >&3
sleep 0.5
"$mad" results merge "$db" "$tmp/copy.db" >"$tmp/out" 2>"$tmp/err"; code=$?
exec 3>&-
[ "$code" -eq 1 ] || fail "merge into a locked database: exit code $code ($(cat "$tmp/err"))"
grep -q "$line" "$tmp/err" || fail "merge into a locked database: no '$line': $(cat "$tmp/err")"
grep -q "^mad: error: .*write lock for more than 5000 ms" "$tmp/err" || fail "merge into a locked database: $(cat "$tmp/err")"

finish cli_db_lock_test
