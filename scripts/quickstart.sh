#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build, and run the main job (a small sweep and its scores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh release --target mad
mkdir -p runs
echo
# The main job: a small sweep (two architectures on the six task baselines, a short training budget) into
# a SQLite results database, then its MAD score table. Running it again resumes; finished runs are skipped.
./build/release/apps/mad sweep run configs/sweeps/quick.yml --db runs/quick.db
echo
./build/release/apps/mad scores --db runs/quick.db --sweep quick
echo
echo "Built ./build/release/apps/mad — try './build/release/apps/mad --help'; results in runs/quick.db."
