#!/bin/bash
# Issue 19: a WAL database in a read-only directory or on a read-only mount could not even be read by
# `mad scores`, `mad runs` or `mad report` ("unable to open database file", blaming a missing directory).
# Now readers open it read-only, reading it as immutable where SQLite cannot create FILE-shm, and writers
# name the actual cause. As root (CI), where permission bits do not stop writes, the read-only directory
# is a read-only bind mount and the chmod case runs as the user nobody; exits 77 (skipped) where neither
# is possible.
# Usage: cli_readonly_db_test.sh PATH_TO_MAD
set -u
source "$(dirname "$0")/common.sh" "$1"
cp "$(dirname "$0")/memorization_sweep.yml" "$tmp/sweep.yml"
mkdir -p "$tmp/rw" "$tmp/ro"
expect_ok "a results database" "$mad" sweep run "$tmp/sweep.yml" --db "$tmp/rw/r.db" --quiet
key=$(sqlite3 "$tmp/rw/r.db" "SELECT substr(key, 1, 12) FROM runs")

# readers_work DIR AS...: every read-only command reads DIR/r.db (AS: a prefix such as setpriv ...), and
# nothing is written next to it.
readers_work() {
  local dir=$1; shift
  local before; before=$(ls -A "$dir")
  expect_ok "scores from $dir" "$@" "$mad" scores --db "$dir/r.db"
  grep -q "memorization\|M " "$tmp/out" || fail "scores from $dir: no scores: $(cat "$tmp/out")"
  expect_ok "runs from $dir" "$@" "$mad" runs --db "$dir/r.db"
  grep -q "completed" "$tmp/out" || fail "runs from $dir: $(cat "$tmp/out")"
  expect_ok "runs show from $dir" "$@" "$mad" runs show "$key" --db "$dir/r.db"
  expect_ok "sweep status from $dir" "$@" "$mad" sweep status "$tmp/sweep.yml" --db "$dir/r.db"
  grep -q "1 completed" "$tmp/out" || fail "sweep status from $dir: $(cat "$tmp/out")"
  expect_ok "report from $dir" "$@" "$mad" report --db "$dir/r.db" --out "$tmp/report-$RANDOM"
  [ "$(ls -A "$dir")" = "$before" ] || fail "readers wrote next to $dir/r.db: $(ls -A "$dir")"
}

ran=0
# --- a read-only mount ------------------------------------------------------------------------------
if mount --bind "$tmp/rw" "$tmp/ro" 2>/dev/null; then
  if mount -o remount,ro,bind "$tmp/ro" 2>/dev/null; then
    trap 'umount "$tmp/ro" 2>/dev/null; rm -rf "$tmp"' EXIT
    ran=1
    readers_work "$tmp/ro"
    expect_error "sweep run into a read-only mount" "read-only mount" "$mad" sweep run "$tmp/sweep.yml" --db "$tmp/ro/r.db"
    grep -q "missing\|does not exist\|network" "$tmp/err" && fail "the error blames something else: $(cat "$tmp/err")"
    # Writes another process made are in FILE-wal, not yet in the file: a reader through the read-only mount
    # sees them (through the writer's FILE-shm).
    mkfifo "$tmp/writer.in"
    sqlite3 "$tmp/rw/r.db" <"$tmp/writer.in" >"$tmp/writer.out" 2>&1 &
    writer=$!
    exec 3>"$tmp/writer.in"
    echo "UPDATE runs SET status = 'failed', error = 'written into the WAL'; SELECT 'written';" >&3
    for _ in $(seq 100); do grep -q written "$tmp/writer.out" && break; sleep 0.1; done
    expect_ok "runs from the read-only mount with a live writer" "$mad" runs --db "$tmp/ro/r.db" --format json
    grep -q "written into the WAL" "$tmp/out" || fail "a reader missed the writes in FILE-wal: $(cat "$tmp/out")"
    # A killed writer leaves FILE-wal; without FILE-shm it cannot be read from a read-only mount: say so.
    kill -9 "$writer"; wait "$writer" 2>/dev/null; exec 3>&-
    rm -f "$tmp/rw/r.db-shm"
    expect_error "a pending WAL without FILE-shm on a read-only mount" "r.db-wal holds writes" \
      "$mad" runs --db "$tmp/ro/r.db"
    sqlite3 "$tmp/rw/r.db" "UPDATE runs SET status = 'completed', error = NULL"  # recovers and checkpoints the WAL
    umount "$tmp/ro"
  else
    umount "$tmp/ro"
  fi
fi

# --- a read-only directory (permission bits): as root, tried as the user nobody -------------------
as=()
if [ "$(id -u)" -eq 0 ]; then
  if setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
    as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    chmod 755 "$tmp"
  else
    as=(skip)
  fi
fi
if [ "${as[0]:-}" != skip ]; then
  ran=1
  chmod 555 "$tmp/rw"
  chmod 644 "$tmp/rw/r.db"
  chmod 777 "$tmp"  # the reports are written under $tmp
  readers_work "$tmp/rw" "${as[@]}"
  expect_error "sweep run into a read-only directory" "is not writable" "${as[@]}" "$mad" sweep run "$tmp/sweep.yml" \
    --db "$tmp/rw/r.db"
  grep -q "missing\|does not exist\|network" "$tmp/err" && fail "the error blames something else: $(cat "$tmp/err")"
  chmod 755 "$tmp/rw"
fi
if [ "$ran" -eq 0 ]; then
  echo "skipped: as root, neither a read-only bind mount nor setpriv to nobody is possible here"
  exit 77
fi

finish cli_readonly_db_test
