#!/usr/bin/env bash
# Configures and builds madcpp with a CMake preset (default: release) into build/<preset>.
# Usage: scripts/build.sh [release|native|debug] [extra cmake --build args]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
shift || true
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)" "$@"
