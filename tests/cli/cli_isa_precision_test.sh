#!/usr/bin/env bash
# MAD_ISA and --precision on the command line: bad values give one-line errors; the version names the
# instruction set; a short training run in bf16 stays within a stated tolerance of float32's loss curve.
source "$(dirname "$0")/common.sh"

expect_ok "version" "$mad" --version
grep -q "kernels .*(supported: generic" "$tmp/out" || fail "--version does not name the kernels: $(cat "$tmp/out")"
expect_ok "MAD_ISA=generic" env MAD_ISA=generic "$mad" --version
grep -q "kernels generic " "$tmp/out" || fail "MAD_ISA=generic not honoured: $(cat "$tmp/out")"
expect_error "unknown MAD_ISA" "valid values are generic avx2 avx512 avx512bf16" env MAD_ISA=sse9 "$mad" --version
expect_error "unknown precision" "valid values are f32 and bf16" "$mad" train --task memorization --precision fp8 --epochs 1
expect_error "unknown weight decay groups" "valid values are all and no_norm_bias" "$mad" train --task memorization --weight-decay-groups none --epochs 1

# The loss curve of bf16 against f32: 3 epochs of in-context recall on a small setting. Tolerance: each
# epoch's test loss within 5% of float32's (bf16 keeps 8 significant bits of the products' inputs only).
small="--seq-len 32 --vocab-size 16 --num-train-examples 256 --num-test-examples 64 --epochs 3 --batch-size 32"
for p in f32 bf16; do
  expect_ok "train $p" "$mad" train --task in-context-recall $small --layers mh-attention swiglu --precision $p --json
  cp "$tmp/out" "$tmp/$p.json"
done
python3 - "$tmp/f32.json" "$tmp/bf16.json" <<'PY' || fail "bf16 loss curve differs from f32 by more than 5%"
import json, sys
f, b = (json.load(open(p)) for p in sys.argv[1:3])
assert b["precision"] == "bf16" and f["precision"] == "f32", "precision not reported"
fl, bl = f["test_loss_per_epoch"], b["test_loss_per_epoch"]
print("test loss f32", fl, "bf16", bl)
assert len(fl) == len(bl) == 3 and fl != bl, "bf16 identical to f32: the mode had no effect"
assert all(abs(x - y) <= 0.05 * abs(x) for x, y in zip(fl, bl)), (fl, bl)
PY
finish cli_isa_precision
