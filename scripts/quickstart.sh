#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build, and run the main job (a small sweep and its scores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh release --target mad
# The Python module madcpp (skipped by CMake when pybind11 is missing).
# (grep reads the whole list: with -q it would stop early and make prints "Broken pipe".)
if cmake --build --preset release --target help | grep -w madcpp_python >/dev/null; then
  bash scripts/build.sh release --target madcpp_python
fi
mkdir -p runs
echo
# The main job: a small sweep (attention against sliding-window attention with a 4-token window on an
# in-context-recall setting, 3 seeds; configs/sweeps/quick.yml) into a SQLite results database, then its
# MAD score table and the HTML report. Running it again resumes; finished runs are skipped.
./build/release/apps/mad sweep run configs/sweeps/quick.yml --db runs/quick.db
echo
./build/release/apps/mad scores --db runs/quick.db --sweep quick
./build/release/apps/mad report --db runs/quick.db --sweep quick --out runs/quick-report
echo
echo "Built ./build/release/apps/mad — try './build/release/apps/mad --help'; results in runs/quick.db, the report"
# The module is built for one interpreter (MAD_PYTHON, Debian's /usr/bin/python3), which has pandas.
python=$(sed -n 's/^MAD_PYTHON:FILEPATH=//p' build/release/CMakeCache.txt)
echo "in runs/quick-report/index.html; from Python: PYTHONPATH=build/release/python ${python:-python3} -c \"import madcpp; print(madcpp.scores('runs/quick.db'))\""
