#!/bin/bash
# End-to-end test of `mad tasks`, `mad data generate` and `mad data inspect`: files, output, exit codes and
# one-line errors for bad input. Usage: cli_data_test.sh PATH_TO_MAD
set -u
source "$(dirname "$0")/../cli/common.sh" "$1"

expect_ok "mad tasks" "$mad" tasks
for task in in-context-recall noisy-in-context-recall fuzzy-in-context-recall selective-copying compression memorization; do
  grep -q "^$task (" "$tmp/out" || fail "mad tasks does not list $task"
done
grep -q "^mqar (MQAR)" "$tmp/out" || fail "mad tasks does not list the extra task mqar"
expect_ok "mad tasks --grid" "$mad" tasks --grid
[ "$(grep -c ' t-' "$tmp/out")" -eq 66 ] || fail "mad tasks --grid does not list 66 settings"

# generate, then inspect
small="--num-train-examples 50 --num-test-examples 20"
expect_ok "generate" "$mad" data generate --task in-context-recall --seq-len 32 $small --out "$tmp/cr"
grep -q "generated 50 + 20 sequences in [0-9.]* s" "$tmp/out" || fail "generate does not report its time: $(cat "$tmp/out")"
for f in train/inputs.npy train/targets.npy test/inputs.npy test/targets.npy settings.json; do
  [ -f "$tmp/cr/$f" ] || fail "generate did not write $f"
done
expect_ok "inspect" "$mad" data inspect "$tmp/cr"
grep -q "^train  \[50, 31\]" "$tmp/out" || fail "inspect does not show the train shape: $(cat "$tmp/out")"
grep -q "(from settings.json)" "$tmp/out" || fail "inspect does not use settings.json"

# numpy reads our files (when Debian's python3 has numpy)
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  /usr/bin/python3 - "$tmp/cr" <<'PY' || fail "numpy cannot read the generated files"
import sys, numpy as np
d = sys.argv[1]
x, t = np.load(d + "/test/inputs.npy"), np.load(d + "/test/targets.npy")
assert x.dtype == np.int64 and x.shape == (20, 31) and t.shape == x.shape, (x.dtype, x.shape)
assert ((t == -100) | ((t >= 8) & (t < 16))).all()
PY
fi

# the reference directory name stands in for settings.json
expect_ok "generate --root" "$mad" data generate --task compression $small --root "$tmp"
name="t-C_vs-16_sl-32_ntr-50_nte-20_km-1_vm-1_mq-1_fn-0#0_nvs-0_ntc-0_s-12345"
[ -d "$tmp/$name" ] || fail "generate --root did not use the reference name"
rm -f "$tmp/$name/settings.json"
expect_ok "inspect by name" "$mad" data inspect "$tmp/$name" --split train --row 3
grep -q "(from the directory name)" "$tmp/out" || fail "inspect does not read the reference name"

# bad input
expect_error "existing dataset" "already holds a dataset" "$mad" data generate --task in-context-recall --seq-len 32 $small --out "$tmp/cr"
expect_ok "--force" "$mad" data generate --task in-context-recall --seq-len 32 $small --out "$tmp/cr" --force
expect_error "odd seq_len" "seq_len=33 is invalid for in-context-recall" "$mad" data generate --task in-context-recall --seq-len 33 --out "$tmp/x"
expect_error "bad type" "--vocab-size: expected an integer, got 'many'" "$mad" data generate --task compression --vocab-size many --out "$tmp/x"
expect_error "unknown task" "unknown task 'copying'; valid tasks: " "$mad" data generate --task copying --out "$tmp/x"
expect_error "missing directory" "does not exist" "$mad" data inspect "$tmp/nothing"
cp -r "$tmp/cr" "$tmp/mixed"
cp "$tmp/$name/test/targets.npy" "$tmp/mixed/test/targets.npy"
expect_error "shape mismatch" "inputs and targets must have the same shape" "$mad" data inspect "$tmp/mixed"
sed -i 's/"vocab_size": 16/"vocab_size": 12/' "$tmp/cr/settings.json"
expect_error "tokens outside the vocabulary" "is outside the vocabulary \[0, 12)" "$mad" data inspect "$tmp/cr"

# mqar (zoology's MQAR): reachable by name, its own settings, its directory name, one-line errors
expect_ok "generate mqar" "$mad" data generate --task mqar --seq-len 32 --num-kv-pairs 4 --power-a 0.5 $small --root "$tmp"
mqar_name="t-MQAR_vs-512_sl-32_ntr-50_nte-20_km-1_vm-1_mq-1_fn-0#0_nvs-0_ntc-0_s-12345_nkv-4_pa-0#5"
[ -d "$tmp/$mqar_name" ] || fail "generate mqar did not use the name $mqar_name: $(ls "$tmp")"
expect_ok "inspect mqar" "$mad" data inspect "$tmp/$mqar_name"
grep -q "^train  \[50, 32\]" "$tmp/out" || fail "inspect mqar does not show the train shape: $(cat "$tmp/out")"
grep -q "num_kv_pairs=4 power_a=0.5" "$tmp/out" || fail "inspect mqar does not show its settings: $(cat "$tmp/out")"
expect_error "mqar pairs do not fit" "num_kv_pairs=9 with seq_len=32 leaves 7 query slots" "$mad" data generate --task mqar --seq-len 32 --num-kv-pairs 9 --out "$tmp/x"
expect_error "mqar setting on a MAD task" "setting num_kv_pairs=8 is not used by in-context-recall" "$mad" data generate --task in-context-recall --num-kv-pairs 8 --out "$tmp/x"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all CLI checks passed"
