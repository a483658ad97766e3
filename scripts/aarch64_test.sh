#!/usr/bin/env bash
# The arm64 check (issue 16): cross-builds madcpp's libraries and fast-tier test executables for 64-bit
# Arm with Debian's g++-aarch64-linux-gnu and runs the fast tier under qemu-user-static, so the generic
# (MAD_PORTABLE) kernels are tested on a target without x86 intrinsics. ctest runs it as the test
# `aarch64_fast_tier` (tests/aarch64/CMakeLists.txt); by hand, after a native build:
#   bash scripts/aarch64_test.sh [NATIVE_BUILD_DIR [CROSS_BUILD_DIR]]
# NATIVE_BUILD_DIR (default build/release) must be built: the executables its fast-tier tests run are the
# ones cross-built here, so this script keeps no list of tests of its own. CROSS_BUILD_DIR defaults to
# NATIVE_BUILD_DIR/aarch64, inside the ignored build tree.
# Environment: MAD_AARCH64_BUDGET, seconds the fast tier may take under qemu (default 600);
# MAD_AARCH64_JOBS, parallel compile and test jobs (default 2, this project's machines have 2 cores).
# Exit status: 0 passed, 1 failed, 77 skipped: only when the cross packages cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=$PWD

native_dir=$(realpath -m "${1:-build/release}")
cross_dir=$(realpath -m "${2:-$native_dir/aarch64}")
budget=${MAD_AARCH64_BUDGET:-600}
jobs=${MAD_AARCH64_JOBS:-2}

say() { echo "aarch64_test: $*"; }
fail() { echo "aarch64_test: $*" >&2; exit 1; }
skip() { echo "aarch64_test: skipped: $*" >&2; exit 77; }

# ---- the fast tier's executables, named by the native tree ------------------------------------------------
# ctest -N -V prints each test's command line before its name. Tests whose command is an executable of the
# native tree name a target to cross-build; the others (the cli_* shell scripts, which need the `mad`
# program and a kernel that runs arm64 binaries by itself, i.e. binfmt_misc) are left out by name.
command -v cmake >/dev/null || fail "cmake is not installed; run scripts/install_deps.sh first"
[[ -f $native_dir/CTestTestfile.cmake ]] ||
  fail "no test tree in $native_dir; build it first (cmake --preset release && cmake --build --preset release)"
listing=$(ctest --test-dir "$native_dir" -N -V -L '^fast$' | awk -v root="$native_dir/" '
  / Test command: / { exe = $4 }
  /^ *Test +#[0-9]+: / { if (index(exe, root) == 1) { n = split(exe, part, "/"); print "target", part[n] }
                         else print "script", $3 }')
mapfile -t targets < <(awk '$1 == "target" { print $2 }' <<<"$listing" | sort -u)
mapfile -t scripts < <(awk '$1 == "script" { print $2 }' <<<"$listing")
[[ ${#targets[@]} -gt 0 ]] ||
  fail "$native_dir lists no fast-tier test executables; build it first (cmake --build --preset release)"
# An executable not built natively has no tests listed yet (only a placeholder without labels): say so
# rather than silently testing less.
not_built=$(ctest --test-dir "$native_dir" -N | sed -n 's/^ *Test *#[0-9]*: \(.*\)_NOT_BUILT$/\1/p' | tr '\n' ' ')
[[ -z $not_built ]] || say "not built in $native_dir, so not tested here if in the fast tier: $not_built"

# ---- packages -------------------------------------------------------------------------------------------
# The cross compiler and the emulator are amd64 packages. The arm64 libraries come from Debian's arm64
# archive as multiarch packages (dpkg --add-architecture arm64): these are all "Multi-Arch: same", so they
# install beside their amd64 twins (apt upgrades an amd64 twin whose version differs). Eigen and CLI11 are
# header-only "Architecture: all" packages: the native ones serve. libc6-dev:arm64 and libstdc++6:arm64
# come as dependencies and give qemu the arm64 dynamic loader (/lib/ld-linux-aarch64.so.1).
cross_packages=(g++-aarch64-linux-gnu qemu-user-static)
arm64_packages=(libfmt-dev:arm64 libspdlog-dev:arm64 libsqlite3-dev:arm64 libgtest-dev:arm64
                libgmock-dev:arm64 libyaml-cpp0.7:arm64)
# libyaml-cpp-dev is not Multi-Arch: same, so its arm64 flavour would uninstall the amd64 one the native
# build needs. Its arm64 .deb (headers, CMake package, libyaml-cpp.so) is unpacked into the cross build
# directory instead, with the runtime library's .deb beside it for the CMake package's file check; the
# emulated tests load the installed libyaml-cpp0.7:arm64.
yaml_root=$cross_dir/arm64-yaml-cpp
yaml_dir=$yaml_root/usr/lib/aarch64-linux-gnu/cmake/yaml-cpp

missing=()
for p in "${cross_packages[@]}" "${arm64_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
mkdir -p "$cross_dir"
log=$cross_dir/apt.log
apt_get() { DEBIAN_FRONTEND=noninteractive $sudo apt-get -q -o DPkg::Lock::Timeout=600 "$@" >>"$log" 2>&1; }
sudo=""
start=$SECONDS
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || skip "cannot install ${missing[*]} (not root, no sudo); rerun as root"
    sudo="sudo"
  fi
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64 || skip "dpkg --add-architecture arm64 failed; rerun as root"
  fi
  say "installing ${missing[*]} (log: $log)"
  apt_get update || skip "apt-get update failed (see $log); check the network and /etc/apt/sources.list.d"
  apt_get install -y --no-install-recommends "${missing[@]}" ||
    skip "apt-get install ${missing[*]} failed (see $log); check the network and the apt sources"
fi
if [[ ! -f $yaml_dir/yaml-cpp-config.cmake ]]; then
  rm -rf "$yaml_root" && mkdir -p "$yaml_root/debs"
  # apt-get download needs no root; as root it warns that the _apt user cannot write here (harmless).
  (cd "$yaml_root/debs" && sudo="" apt_get download libyaml-cpp-dev:arm64 libyaml-cpp0.7:arm64) ||
    skip "apt-get download libyaml-cpp-dev:arm64 failed (see $log); check the network and the apt sources"
  for deb in "$yaml_root"/debs/*.deb; do dpkg-deb -x "$deb" "$yaml_root"; done
fi
say "packages: $((SECONDS - start)) s"

# ---- cross configure and build ---------------------------------------------------------------------------
start=$SECONDS
cmake -S "$source_dir" -B "$cross_dir" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$source_dir/cmake/toolchain-aarch64.cmake" -Dyaml-cpp_DIR="$yaml_dir" >"$cross_dir/configure.log" 2>&1 ||
  fail "cross configure failed (see $cross_dir/configure.log)"
# A target the cross tree does not define (an x86-only test, say) is reported, not built.
known=$(cmake --build "$cross_dir" --target help | awk '/^\.\.\. / { print $2 }')
build=()
for t in "${targets[@]}"; do
  if grep -qx "$t" <<<"$known"; then build+=("$t"); else say "not in the aarch64 build: $t"; fi
done
say "cross-building ${#build[@]} fast-tier test executables: ${build[*]}"
cmake --build "$cross_dir" -j "$jobs" --target "${build[@]}" >"$cross_dir/build.log" 2>&1 ||
  { tail -n 30 "$cross_dir/build.log" >&2; fail "cross build failed (full log: $cross_dir/build.log)"; }
say "cross configure + build: $((SECONDS - start)) s"

# ---- the fast tier under qemu ----------------------------------------------------------------------------
exclude="^($(IFS='|'; echo "${scripts[*]:-none}"))\$"
say "running the fast tier under qemu-aarch64 (budget ${budget} s; left out: ${scripts[*]:-none})"
start=$SECONDS
status=0
# --timeout bounds any one test, so a hung test fails alone instead of eating the whole budget.
timeout --kill-after=30 "$budget" ctest --test-dir "$cross_dir" -L '^fast$' -E "$exclude" -j "$jobs" \
  --timeout 300 --output-on-failure || status=$?
say "fast tier under qemu: $((SECONDS - start)) s"
[[ $status -eq 124 ]] && fail "the fast tier took more than ${budget} s under qemu; raise MAD_AARCH64_BUDGET"
[[ $status -eq 0 ]] || fail "fast-tier tests failed on aarch64 (above; rerun one: ctest --test-dir $cross_dir -R NAME -V)"
