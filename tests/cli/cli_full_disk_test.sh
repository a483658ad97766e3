#!/bin/bash
# Issue 19: on a full disk, `mad report` left index.html.tmp and `mad data generate` a truncated inputs.npy,
# and a database reported "disk I/O error ... (a network file system ...)" and could not even be read.
# Now every output file is written atomically, the errors name the full disk, and readers read. Runs on a 1 MiB tmpfs: needs
# root (CI runs as root); exits 77 (skipped) where mounting is impossible.
# Usage: cli_full_disk_test.sh PATH_TO_MAD
set -u
source "$(dirname "$0")/common.sh" "$1"
cp "$(dirname "$0")/memorization_sweep.yml" "$tmp/sweep.yml"
# --- a full disk: `mad report` left index.html.tmp, `mad data generate` a truncated inputs.npy ------------
# On a 1 MiB tmpfs (needs root; skipped where mounting is impossible, e.g. in an unprivileged container).
mkdir -p "$tmp/full"
if mount -t tmpfs -o size=1m tmpfs "$tmp/full" 2>/dev/null; then
  trap 'umount "$tmp/full" 2>/dev/null; rm -rf "$tmp"' EXIT
  # 64 x 1024 tokens per split at 8 bytes each: 512 KiB an array, more than the disk holds.
  expect_error "data generate on a full disk" "No space left on device" "$mad" data generate --task memorization \
    --seq-len 1024 --num-train-examples 64 --num-test-examples 64 --out "$tmp/full/data"
  find "$tmp/full" -name '*.tmp*' | grep -q . && fail "data generate left temporaries: $(find "$tmp/full")"
  for f in $(find "$tmp/full" -name '*.npy'); do
    python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); h=d[10:10+int.from_bytes(d[8:10],"little")].decode(); \
      import re; r,c=map(int,re.search(r"\((\d+), (\d+)\)",h).groups()); sys.exit(0 if len(d)==10+len(h)+8*r*c else 1)' "$f" ||
      fail "data generate left a truncated $f"
  done
  rm -rf "$tmp/full/data"
  expect_ok "a results database" "$mad" sweep run "$tmp/sweep.yml" --db "$tmp/r.db" --quiet
  dd if=/dev/zero of="$tmp/full/filler" bs=4k status=none 2>/dev/null
  mkdir -p "$tmp/full/report" 2>/dev/null
  expect_error "report on a full disk" "No space left on device" "$mad" report --db "$tmp/r.db" --out "$tmp/full/report"
  [ -z "$(ls -A "$tmp/full/report" 2>/dev/null)" ] || fail "report on a full disk left $(ls -A "$tmp/full/report")"
  rm -rf "$tmp/full/report" "$tmp/full/filler"
  # --- a database on a full disk: the error blamed "a network file system"; readers could not read it --
  expect_ok "a results database on the small disk" "$mad" sweep run "$tmp/sweep.yml" --db "$tmp/full/r.db" --quiet
  dd if=/dev/zero of="$tmp/full/filler" bs=4k status=none 2>/dev/null
  sed 's/name: tiny/name: other/; s/1.0e-3/2.0e-3/' "$tmp/sweep.yml" >"$tmp/other.yml"
  expect_error "sweep run into a database on a full disk" "is full (No space left on device)" \
    "$mad" sweep run "$tmp/other.yml" --db "$tmp/full/r.db" --quiet
  grep -q "network" "$tmp/err" && fail "the full-disk error blames a network file system: $(cat "$tmp/err")"
  expect_ok "runs from a full disk" "$mad" runs --db "$tmp/full/r.db"
  grep -q "completed" "$tmp/out" || fail "runs from a full disk: $(cat "$tmp/out")"
  expect_ok "scores from a full disk" "$mad" scores --db "$tmp/full/r.db"
  umount "$tmp/full"
else
  echo "skipped: cannot mount a tmpfs here (needs root)"
  exit 77
fi

finish cli_full_disk_test
