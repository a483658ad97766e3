#!/usr/bin/env bash
# Installs the Debian 12 packages madcpp builds and tests with, when any is missing.
# Needs root (or sudo). Safe to run repeatedly: it does nothing when everything is installed.
set -euo pipefail

packages=(cmake g++ make libeigen3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
          libsqlite3-dev sqlite3 libgtest-dev libgmock-dev)
# The Python module madcpp (python/): built for Debian's /usr/bin/python3, returning pandas DataFrames.
packages+=(python3-dev pybind11-dev python3-pandas)
# The fuzz targets (fuzz/, scripts/test.sh with MAD_TEST_SANITIZE=1): clang 14 and its libFuzzer runtime.
packages+=(clang libclang-rt-14-dev)
# Optional extras for the tests that compare with numpy / PyTorch; the tests skip when absent.
optional=(python3-numpy)
# PyTorch (bench/pytorch_bench.py, the parity tests) with OpenBLAS: without libopenblas0 Debian's torch
# multiplies matrices through the reference BLAS, about 20x slower.
if [[ "${MAD_WITH_TORCH:-0}" == 1 ]]; then optional+=(python3-torch libopenblas0-pthread); fi

# Once a foreign architecture is added (scripts/aarch64_test.sh adds arm64), dpkg-query lists every
# installed flavour of a package: only a native or an "Architecture: all" one serves the native build.
native=$(dpkg --print-architecture)
missing=()
for p in "${packages[@]}" "${optional[@]}"; do
  dpkg-query -W -f='${Status} ${Architecture}\n' "$p" 2>/dev/null | grep -qE "^install ok installed ($native|all)$" ||
    missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install_deps: missing packages (${missing[*]}) and not root; rerun as root" >&2; exit 1; }
  sudo="sudo"
fi
echo "install_deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
