#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build, and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh release --target mad
echo
./build/release/apps/mad demo
echo
echo "Built ./build/release/apps/mad — try './build/release/apps/mad --help'."
