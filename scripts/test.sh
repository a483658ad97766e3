#!/usr/bin/env bash
# Quick start, step 2: install what is missing, build, and run the whole test suite.
#   MAD_TEST_SANITIZE=1 also builds the debug preset with AddressSanitizer + UBSan and runs the fast and
#   gradcheck tiers under it, then builds the libFuzzer targets with clang (the fuzz preset, fuzz/) and
#   runs each for MAD_FUZZ_SECONDS (20) seconds on its seed corpus (the ctest label `fuzz`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
start=$SECONDS
bash scripts/build.sh release
echo "build: $((SECONDS - start)) s"
ctest --preset release -j "$(nproc)"
# Every instruction set this CPU supports (kernels/isa.h) passes the fast and gradient-check tiers, not
# only the best one that the run above used.
# --version prints "avx512 (supported: generic avx2 avx512 avx512bf16; VDPBF16PS at ...)": the names end at
# the first ';' or ')'.
isas=$(./build/release/apps/mad --version | sed -n 's/.*(supported: \([^;)]*\).*/\1/p')
[[ -n "$isas" ]] || { echo "scripts/test.sh: could not read the supported instruction sets from mad --version"; exit 1; }
for isa in $isas; do
  echo "tests with MAD_ISA=$isa"
  MAD_ISA=$isa ctest --preset release -j "$(nproc)" -L "fast|gradcheck" --output-on-failure >/tmp/mad_isa_$$.log 2>&1 ||
    { grep -m 20 -A 4 "Failure\|what()\|MAD_ISA=" /tmp/mad_isa_$$.log | head -n 80; tail -n 40 /tmp/mad_isa_$$.log
      rm -f /tmp/mad_isa_$$.log; exit 1; }
  tail -n 3 /tmp/mad_isa_$$.log | head -n 1
  rm -f /tmp/mad_isa_$$.log
done
if [[ "${MAD_TEST_SANITIZE:-0}" == 1 ]]; then
  bash scripts/build.sh debug
  # Undefined behaviour fails the test instead of printing a warning.
  # Left out under the sanitizers, to keep CI within its time limit: the registry-wide layer gradient checks
  # (LayerGradient) and the normaliser's searches (Normalize.*) run 100-300x slower unoptimised with ASan;
  # both run in the release tier above, and every op's gradient check still runs here.
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --preset debug -j "$(nproc)" -L "fast|gradcheck" \
    -E "LayerGradient|Normalize[.]"
  fuzz_start=$SECONDS
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz  # the fuzz targets and the libraries they need, nothing else
  ctest --preset fuzz -j "$(nproc)"
  echo "fuzz: $((SECONDS - fuzz_start)) s, the clang build included"
fi
echo "tests: $((SECONDS - start)) s in all"
