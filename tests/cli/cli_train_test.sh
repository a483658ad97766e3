#!/bin/bash
# End-to-end test of `mad --help/--version`, `mad layers` and `mad train`: every backbone trains, the same
# command twice gives identical metrics, --save/--resume, --data-dir, and one-line errors with exit code 1
# for bad input. Usage: cli_train_test.sh PATH_TO_MAD
set -u
source "$(dirname "$0")/common.sh" "$1"
# The JSON result without its wall time, for comparisons.
metrics() { sed -E 's/"seconds": [0-9.e+-]+//' "$1"; }

expect_ok "mad --version" "$mad" --version
grep -q "^mad [0-9]" "$tmp/out" || fail "--version prints '$(cat "$tmp/out")'"
expect_ok "mad --help" "$mad" --help
for cmd in train layers tasks data demo; do grep -q "^  $cmd" "$tmp/out" || fail "mad --help does not list $cmd"; done
expect_ok "mad layers" "$mad" layers
# Every layer and block with a default configuration (configs/layers/<name>.yml) is registered in the
# executable: none of the self-registering layer files was dropped at link time (models/CMakeLists.txt).
for file in "$(dirname "$0")"/../../configs/layers/*.yml; do
  layer=$(basename "$file" .yml)
  grep -q "^$layer " "$tmp/out" || fail "mad layers does not list $layer"
done

cat >"$tmp/arch.yml" <<'YAML'
dim: 32
layers: [{type: mh-attention, n_heads: 4}, swiglu, {type: mh-attention, n_heads: 4}, swiglu]
YAML
small="--num-train-examples 64 --num-test-examples 32 --epochs 2 --batch-size 16 --arch $tmp/arch.yml --quiet"
for task in "in-context-recall --seq-len 16 --vocab-size 8" "compression --seq-len 16 --vocab-size 8" \
            "memorization --vocab-size 33 --seq-len 8" "selective-copying --seq-len 24 --vocab-size 8 --num-tokens-to-copy 4"; do
  name=${task%% *}
  # shellcheck disable=SC2086
  expect_ok "train $name" "$mad" train --task $task $small --json
  cp "$tmp/out" "$tmp/$name.1"
  grep -q '"status": "completed"' "$tmp/$name.1" || fail "train $name: $(cat "$tmp/$name.1")"
  for key in test_acc test_token_acc test_loss test_ppl train_acc train_loss best_epoch epochs_run seconds; do
    grep -q "\"$key\":" "$tmp/$name.1" || fail "train $name --json lacks $key"
  done
  # shellcheck disable=SC2086
  expect_ok "train $name again" "$mad" train --task $task $small --json
  [ "$(metrics "$tmp/$name.1")" == "$(metrics "$tmp/out")" ] || fail "train $name is not deterministic"
done

# Human output ends with the metrics table.
# shellcheck disable=SC2086
expect_ok "train table" "$mad" train --task in-context-recall --seq-len 16 --vocab-size 8 $small
grep -q "^test " "$tmp/out" || fail "no metrics table: $(cat "$tmp/out")"

# --save then --resume of the finished run gives the same result; a different run is refused.
# shellcheck disable=SC2086
expect_ok "train --save" "$mad" train --task in-context-recall --seq-len 16 --vocab-size 8 $small --json --save "$tmp/run"
cp "$tmp/out" "$tmp/saved"
[ -f "$tmp/run/last.ckpt" ] && [ -f "$tmp/run/result.json" ] || fail "--save wrote $(ls "$tmp/run")"
# shellcheck disable=SC2086
expect_ok "train --resume" "$mad" train --task in-context-recall --seq-len 16 --vocab-size 8 $small --json --save "$tmp/run" --resume
[ "$(metrics "$tmp/saved")" == "$(metrics "$tmp/out")" ] || fail "--resume changed the result"
# shellcheck disable=SC2086
expect_error "resume other run" "other settings" "$mad" train --task in-context-recall --seq-len 16 --vocab-size 8 $small --lr 1e-2 --save "$tmp/run" --resume
# shellcheck disable=SC2086
expect_error "save over a run" "exists" "$mad" train --task in-context-recall --seq-len 16 --vocab-size 8 $small --save "$tmp/run"

# --data-dir trains on files from `mad data generate`.
expect_ok "generate" "$mad" data generate --task in-context-recall --seq-len 16 --vocab-size 8 --num-train-examples 64 --num-test-examples 32 --out "$tmp/data"
expect_ok "train --data-dir" "$mad" train --data-dir "$tmp/data" --arch "$tmp/arch.yml" --epochs 1 --batch-size 16 --quiet --json
grep -q '"status": "completed"' "$tmp/out" || fail "train --data-dir: $(cat "$tmp/out")"

# Bad input: one line, exit code 1.
expect_error "unknown layer" "valid layers" "$mad" train --task in-context-recall --layers mh-atention swiglu --epochs 1
expect_error "heads" "do not divide" "$mad" train --task in-context-recall --layers mh-attention --dim 30 --epochs 1
echo 'layers: [{type: mh-attention, n_heads: 7}]' >"$tmp/bad_heads.yml"
expect_error "heads" "do not divide" "$mad" train --task in-context-recall --arch "$tmp/bad_heads.yml" --epochs 1
echo 'layers: [{type: sliding-attention, window_size: 500}]' >"$tmp/bad_window.yml"
expect_error "window" "window_size" "$mad" train --task in-context-recall --arch "$tmp/bad_window.yml" --epochs 1
echo 'layers: [{type: swiglu, bogus: 1}]' >"$tmp/bad_key.yml"
expect_error "unknown key" "bogus" "$mad" train --task in-context-recall --arch "$tmp/bad_key.yml" --epochs 1
printf 'layers: [swiglu\n  - oops: [' >"$tmp/bad_yaml.yml"
expect_error "malformed yaml" "bad_yaml.yml" "$mad" train --task in-context-recall --arch "$tmp/bad_yaml.yml" --epochs 1
expect_error "no architecture" "--layers" "$mad" train --task in-context-recall --epochs 1
expect_error "resume without save" "--save" "$mad" train --task in-context-recall --layers swiglu --resume
expect_usage "bad lr" "--lr" "$mad" train --task in-context-recall --layers swiglu --lr -1 --epochs 1
expect_error "odd seq len" "seq_len" "$mad" train --task in-context-recall --layers swiglu --seq-len 15 --epochs 1

# --log-jsonl writes one JSON line per epoch; --stop-after stops inside the --epochs-long cosine schedule, so
# the second epoch's learning rate is that of a 10-epoch schedule (bench/parity.sh relies on both).
tiny="--task memorization --num-train-examples 32 --num-test-examples 32 --layers swiglu --dim 16"
expect_ok "history" "$mad" train $tiny --epochs 10 --stop-after 2 --lr 1e-3 --quiet --log-jsonl "$tmp/h.jsonl"
python3 - "$tmp/h.jsonl" <<'PY' || fail "--log-jsonl / --stop-after lines wrong: $(cat "$tmp/h.jsonl")"
import json, math, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["epoch"] for l in lines] == [1, 2], lines
lr2 = 1e-6 + (1e-3 - 1e-6) * (1 + math.cos(math.pi / 10)) / 2
assert abs(lines[1]["lr"] - lr2) < 1e-12, lines[1]["lr"]
assert all(0 <= l["test_acc"] <= 1 and l["train_loss"] > 0 for l in lines)
PY

finish cli_train_test
