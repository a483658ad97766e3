#!/usr/bin/env bash
# Installs the Debian 12 packages madcpp builds and tests with, when any is missing.
# Needs root (or sudo). Safe to run repeatedly: it does nothing when everything is installed.
set -euo pipefail

packages=(cmake g++ make libeigen3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
          libsqlite3-dev sqlite3 libgtest-dev libgmock-dev)
# Optional extras for the tests that compare with numpy / PyTorch; the tests skip when absent.
optional=(python3-numpy)
# PyTorch (bench/pytorch_bench.py, the parity tests) with OpenBLAS: without libopenblas0 Debian's torch
# multiplies matrices through the reference BLAS, about 20x slower.
if [[ "${MAD_WITH_TORCH:-0}" == 1 ]]; then optional+=(python3-torch libopenblas0-pthread); fi

missing=()
for p in "${packages[@]}" "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
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
