#!/usr/bin/env bash
# Quick start, step 2: install what is missing, build, and run the whole test suite.
#   MAD_TEST_SANITIZE=1 also builds the debug preset with AddressSanitizer + UBSan and runs the fast and
#   gradcheck tiers under it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
start=$SECONDS
bash scripts/build.sh release
echo "build: $((SECONDS - start)) s"
ctest --preset release -j "$(nproc)"
if [[ "${MAD_TEST_SANITIZE:-0}" == 1 ]]; then
  bash scripts/build.sh debug
  # Undefined behaviour fails the test instead of printing a warning.
  # Left out under the sanitizers, to keep CI within its time limit: the registry-wide layer gradient checks
  # (LayerGradient) and the normaliser's searches (Normalize.*) run 100-300x slower unoptimised with ASan;
  # both run in the release tier above, and every op's gradient check still runs here.
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --preset debug -j "$(nproc)" -L "fast|gradcheck" \
    -E "LayerGradient|Normalize[.]"
fi
echo "tests: $((SECONDS - start)) s in all"
