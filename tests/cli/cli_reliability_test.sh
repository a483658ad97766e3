#!/bin/bash
# Issue 19's defects, end to end through `mad`: diverged runs report no metrics, numeric options are
# range-checked, checkpoints are checksummed, sizes are budgeted before anything is allocated, and
# databases that cannot be written can still be read. Every check names the defect it guards.
# Usage: cli_reliability_test.sh PATH_TO_MAD
set -u
source "$(dirname "$0")/common.sh" "$1"

cp "$(dirname "$0")/memorization_sweep.yml" "$tmp/sweep.yml"

# --- numeric options: --jobs 0 and -1 silently became 2 workers -----------------------------------
for jobs in 0 -1 abc 99999999999999999999; do
  expect_usage "sweep plan --jobs $jobs" "--jobs: must be an integer" "$mad" sweep plan "$tmp/sweep.yml" --jobs "$jobs"
  expect_usage "sweep run --jobs $jobs" "--jobs: must be an integer" "$mad" sweep run "$tmp/sweep.yml" --db "$tmp/j.db" --jobs "$jobs"
done
[ ! -e "$tmp/j.db" ] || fail "sweep run --jobs 0 created the database before refusing"
expect_usage "train --threads 0" "--threads" "$mad" train --task memorization --layers swiglu --threads 0
expect_usage "train --epochs 0" "--epochs" "$mad" train --task memorization --layers swiglu --epochs 0
expect_usage "train --epochs huge" "--epochs" "$mad" train --task memorization --layers swiglu --epochs 99999999999999999999
expect_usage "train --lr nan" "--lr" "$mad" train --task memorization --layers swiglu --lr nan
expect_usage "train --batch-size -3" "--batch-size" "$mad" train --task memorization --layers swiglu --batch-size -3
expect_usage "describe --dim 0" "--dim" "$mad" describe --layers swiglu --dim 0
expect_usage "bench --threads 0" "--threads" "$mad" bench --threads 0
expect_usage "demo --steps 0" "--steps" "$mad" demo --steps 0

# --- diverged runs: a table of 0.0000, JSON "test_acc": 0.0, and "completed" with perplexity inf --------
small="--task memorization --layers swiglu --dim 16 --epochs 2 --quiet"
# lr 10: the test loss is finite (about 2500) but its perplexity is inf.
# shellcheck disable=SC2086
"$mad" train $small --lr 10 --json >"$tmp/out" 2>"$tmp/err"; code=$?
[ "$code" -eq 0 ] || fail "diverged train: exit code $code ($(cat "$tmp/err"))"
grep -q '"status": "diverged"' "$tmp/out" || fail "lr 10 with an infinite perplexity is not diverged: $(cat "$tmp/out")"
for key in test_acc test_loss test_ppl test_token_acc train_acc train_loss train_ppl; do
  grep -q "\"$key\": null" "$tmp/out" || fail "diverged --json: $key is not null: $(cat "$tmp/out")"
done
grep -q '"message": "test perplexity became inf' "$tmp/out" || fail "diverged --json gives no reason: $(cat "$tmp/out")"
# lr 100 on attention: the training loss becomes NaN at the second step, before any epoch finished.
cat >"$tmp/attn.yml" <<'YAML'
dim: 32
layers: [{type: mh-attention, n_heads: 4}, swiglu]
YAML
nan_run="--task in-context-recall --seq-len 16 --vocab-size 8 --num-train-examples 64 --num-test-examples 32 --epochs 2 --batch-size 16 --arch $tmp/attn.yml --quiet --lr 100"
# shellcheck disable=SC2086
"$mad" train $nan_run --json >"$tmp/out" 2>"$tmp/err"
grep -q '"status": "diverged"' "$tmp/out" && grep -q '"test_acc": null' "$tmp/out" && grep -qE '"message": "(loss|test perplexity) became' "$tmp/out" ||
  fail "NaN loss: not diverged with null metrics: $(cat "$tmp/out")"
# shellcheck disable=SC2086
"$mad" train $nan_run >"$tmp/out" 2>"$tmp/err"
grep -qE '^test +diverged +diverged +diverged +diverged$' "$tmp/out" || fail "diverged table: $(cat "$tmp/out")"
grep -q '0\.0000' "$tmp/out" && fail "diverged table shows 0.0000: $(cat "$tmp/out")"
grep -qE 'status diverged, .* \((loss|test perplexity) became' "$tmp/out" || fail "diverged table gives no reason: $(cat "$tmp/out")"

# --- checkpoints: 2,000 floats overwritten by NaN, or trailing garbage, resumed with exit 0 ---------------
ck="--task memorization --layers swiglu --dim 16 --epochs 2 --quiet --json"
# shellcheck disable=SC2086
expect_ok "train --save" "$mad" train $ck --save "$tmp/ckpt"
cp "$tmp/out" "$tmp/ckpt_result"
size=$(stat -c %s "$tmp/ckpt/last.ckpt")
cp "$tmp/ckpt/last.ckpt" "$tmp/good.ckpt"
# shellcheck disable=SC2086
expect_ok "resume an intact checkpoint" "$mad" train $ck --save "$tmp/ckpt" --resume
nan_block() { python3 -c 'import sys; sys.stdout.buffer.write(b"\x00\x00\xc0\x7f" * 2000)'; }
# 2,000 NaN floats in the parameter data (just before the 32-byte checksum).
nan_block | dd of="$tmp/ckpt/last.ckpt" bs=1 seek=$((size - 32 - 8000)) conv=notrunc status=none
# shellcheck disable=SC2086
expect_error "NaN-overwritten checkpoint" "checksum mismatch" "$mad" train $ck --save "$tmp/ckpt" --resume
# Trailing garbage.
cp "$tmp/good.ckpt" "$tmp/ckpt/last.ckpt"; printf 'garbage' >>"$tmp/ckpt/last.ckpt"
# shellcheck disable=SC2086
expect_error "trailing garbage" "trailing bytes" "$mad" train $ck --save "$tmp/ckpt" --resume
# Truncated.
head -c $((size - 100)) "$tmp/good.ckpt" >"$tmp/ckpt/last.ckpt"
# shellcheck disable=SC2086
expect_error "truncated checkpoint" "truncated checkpoint" "$mad" train $ck --save "$tmp/ckpt" --resume
# NaN values under a recomputed, matching checksum: refused for the values themselves.
python3 - "$tmp/good.ckpt" "$tmp/ckpt/last.ckpt" <<'PY'
import hashlib, sys
data = bytearray(open(sys.argv[1], "rb").read()[:-32])
data[-8000:] = b"\x00\x00\xc0\x7f" * 2000
open(sys.argv[2], "wb").write(bytes(data) + hashlib.sha256(data).digest())
PY
# shellcheck disable=SC2086
expect_error "NaN parameters, valid checksum" "non-finite value" "$mad" train $ck --save "$tmp/ckpt" --resume
ls "$tmp/ckpt" | grep -q tmp && fail "a temporary file is left in the --save directory: $(ls "$tmp/ckpt")"

# --- sizes: describe of mamba d_state 1e7 took 20 GB and 107 s; huge sizes overflowed or hit bad_alloc -----
# Under a 1 GiB address-space limit and a 5 s timeout (no address-space limit under AddressSanitizer, which
# reserves terabytes of shadow address space at start: the release tier checks the memory).
vlimit=1048576
ldd "$mad" 2>/dev/null | grep -q libasan && vlimit=unlimited
printf 'dim: 128\nlayers: [{type: mamba, d_state: 10000000}]\n' >"$tmp/mamba_big.yml"
(ulimit -v "$vlimit"; timeout 5 "$mad" describe --arch "$tmp/mamba_big.yml" >"$tmp/out" 2>"$tmp/err") ||
  fail "describe mamba d_state 1e7 within 1 GiB and 5 s: $(tail -n 2 "$tmp/err")"
printf 'dim: 128\nlayers: [{type: mamba, d_state: 9223372036854775807}]\n' >"$tmp/mamba_max.yml"
expect_error "describe d_state 2^63-1" "d_state.*overflows" "$mad" describe --arch "$tmp/mamba_max.yml"
printf 'dim: 1000000000\nlayers: [mh-attention, swiglu]\n' >"$tmp/dim_big.yml"
expect_error "describe dim 1e9" "overflows 64-bit integers" "$mad" describe --arch "$tmp/dim_big.yml"
for l in rwkv6-time-mixer rwkv5-channel-mixer; do
  printf 'dim: 1000000000\nlayers: [%s]\n' "$l" >"$tmp/rwkv_big.yml"
  (ulimit -v "$vlimit"; timeout 5 "$mad" describe --arch "$tmp/rwkv_big.yml" >"$tmp/out" 2>"$tmp/err")
  code=$?; [ "$code" -eq 0 ] || [ "$code" -eq 1 ] || fail "describe $l dim 1e9: exit code $code (killed or timed out)"
done
# Training a model beyond the memory budget stops before allocating it, naming the largest parameter.
printf 'dim: 128\nlayers: [{type: mamba, d_state: 10000000}]\n' >"$tmp/mamba_big.yml"
expect_error "train beyond the budget" "memory budget.*the largest is" "$mad" train --task memorization --arch "$tmp/mamba_big.yml" --epochs 1
# --max-memory sets the budget, before or after the subcommand; a dataset beyond it stops before generating.
expect_error "dataset beyond --max-memory" "the dataset needs .* more than the memory budget of 1.0 MiB" \
  "$mad" --max-memory 1M data generate --task in-context-recall --out "$tmp/big_data"
[ -e "$tmp/big_data" ] && fail "dataset beyond --max-memory: $tmp/big_data was written"
expect_error "train beyond --max-memory" "memory budget of 2.0 MiB" \
  "$mad" train --task memorization --layers swiglu --dim 16 --epochs 1 --max-memory 2M
expect_ok "train within --max-memory" "$mad" train --task memorization --layers swiglu --dim 16 --epochs 1 --quiet --max-memory 50%
# One step's activations beyond the budget (parameters and data fit): estimated from steps on one and two
# sequences, the run stops before its first full step (the arena's own check is tested in test_step_memory).
expect_error "activations beyond --max-memory" "one training step's activations (estimated: .* per sequence x batch_size 64, plus .*) needs .* more than the memory budget of 128.0 MiB" \
  "$mad" train --task in-context-recall --layers mh-attention swiglu --seq-len 1024 --batch-size 64 \
  --num-train-examples 64 --num-test-examples 64 --epochs 1 --max-memory 128M
# A projection's wiring mask (one byte per synapse) is checked before it is built: fuzzing found a dim of
# 2.8e11 with a random mask asking for 16.7 TiB (tests/fuzz/corpus/arch_spec/regression-wiring-mask-huge-dim.yml).
expect_error "wiring mask beyond the budget" "the random wiring of 277777777760 inputs x 66 units needs .* more than the memory budget" \
  "$mad" describe --arch "$(dirname "$0")/../fuzz/corpus/arch_spec/regression-wiring-mask-huge-dim.yml"
expect_error "bad --max-memory" "is not a memory size" "$mad" train --task memorization --layers swiglu --max-memory 12Q

finish cli_reliability_test
