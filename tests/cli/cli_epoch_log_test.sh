#!/bin/bash
# The JSONL epoch stream: `mad train --log-jsonl FILE` and `mad sweep run --log-dir DIR` write one JSON
# object per epoch whose numbers equal what the run reports (--json, the results database), a rerun
# replaces the file instead of appending twice, and unwritable paths are one-line errors.
# Usage: cli_epoch_log_test.sh PATH_TO_MAD PYTHON
set -u
source "$(dirname "$0")/common.sh" "$1"
python=$2
[ -x "$python" ] || { echo "no $python: skipped"; exit 77; }

cat >"$tmp/arch.yml" <<'YAML'
dim: 16
layers: [{type: mh-attention, n_heads: 2}, swiglu]
YAML
small="--task in-context-recall --seq-len 16 --vocab-size 8 --num-train-examples 32 --num-test-examples 16 --epochs 3
       --batch-size 16 --arch $tmp/arch.yml --quiet"
# shellcheck disable=SC2086
expect_ok "train --log-jsonl" "$mad" train $small --json --log-jsonl "$tmp/train.jsonl"
cp "$tmp/out" "$tmp/train.json"
# shellcheck disable=SC2086
expect_ok "train --log-jsonl again" "$mad" train $small --log-jsonl "$tmp/train.jsonl"
"$python" - "$tmp/train.json" "$tmp/train.jsonl" <<'PY' || fail "train's epoch log differs from its --json result"
import json, sys
result = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().splitlines()
epochs = [json.loads(line) for line in lines]
keys = {"key", "epoch", "lr", "seconds"} | {f"{s}_{m}" for s in ("train", "test") for m in ("loss", "ppl", "acc", "token_acc")}
assert len(epochs) == result["epochs_run"], (len(epochs), result["epochs_run"])  # the rerun replaced the file
for i, e in enumerate(epochs, 1):
    assert set(e) == keys, set(e) ^ keys
    assert e["epoch"] == i and e["key"] == result["key"] and len(e["key"]) == 64, e
assert [e["test_loss"] for e in epochs] == result["test_loss_per_epoch"]
best = epochs[result["best_epoch"] - 1]
assert best["test_acc"] == result["test_acc"] and best["test_ppl"] == result["test_ppl"], (best, result)
PY
# shellcheck disable=SC2086
expect_error "unwritable --log-jsonl" "cannot write the epoch log" "$mad" train $small --log-jsonl "$tmp/missing/dir/x.jsonl"

# A sweep: one file per run key, with the epochs the database recorded.
cat >"$tmp/sweep.yml" <<YAML
name: logged
architectures:
  attention: {file: $tmp/arch.yml}
settings:
  - {task: in-context-recall, seq_len: 16, vocab_size: 8, num_train_examples: 32, num_test_examples: 16}
lr: [1.0e-3, 1.0e-2]
weight_decay: [0.0]
epochs: 2
batch_size: 16
YAML
expect_ok "sweep run --log-dir" "$mad" sweep run "$tmp/sweep.yml" --db "$tmp/sweep.db" --log-dir "$tmp/logs" --quiet --jobs 1
expect_ok "runs" "$mad" runs --db "$tmp/sweep.db" --format json
cp "$tmp/out" "$tmp/runs.json"
[ "$(ls "$tmp/logs" | wc -l)" -eq 2 ] || fail "--log-dir holds $(ls "$tmp/logs")"
for key in $("$python" -c 'import json, sys; print(" ".join(r["key"] for r in json.load(open(sys.argv[1]))))' "$tmp/runs.json"); do
  expect_ok "runs show" "$mad" runs show "$key" --db "$tmp/sweep.db" --format json
  "$python" - "$tmp/out" "$tmp/logs/$key.jsonl" "$key" <<'PY' || fail "run $key: the epoch log differs from the database"
import json, sys
run = json.load(open(sys.argv[1]))
logged = [json.loads(line) for line in open(sys.argv[2])]
stored = run["epoch_metrics"]
assert len(logged) == len(stored) == 2, (len(logged), stored)
for e, d in zip(logged, stored):
    assert e["key"] == sys.argv[3] and e["epoch"] == d["epoch"] and e["lr"] == d["lr"], (e, d)
    for split in ("train", "test"):
        for m in ("loss", "ppl", "acc", "token_acc"):
            assert e[f"{split}_{m}"] == d[split][m], (split, m, e, d)
PY
done
touch "$tmp/a-file"
expect_error "--log-dir on a file" "--log-dir" "$mad" sweep run "$tmp/sweep.yml" --db "$tmp/other.db" --log-dir "$tmp/a-file/logs" --quiet
finish cli_epoch_log
