# Cross-compiles madcpp for 64-bit Arm Linux (aarch64) on a Debian 12 x86-64 host, with Debian's cross
# compiler (g++-aarch64-linux-gnu) and the arm64 multiarch -dev packages (dpkg --add-architecture arm64).
# scripts/aarch64_test.sh installs all of that and uses this file:
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
# There is no sysroot: Debian's cross compiler already searches the multiarch directories
# (/usr/include, /usr/include/aarch64-linux-gnu, /usr/lib/aarch64-linux-gnu), where the :arm64 packages
# install, and CMake's package search looks in lib/<CMAKE_LIBRARY_ARCHITECTURE>, so no x86-64 library
# can be picked up by mistake.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Test executables run on this host under QEMU's user-mode emulator: gtest_discover_tests lists their
# tests through it at build time, and ctest prefixes every test command that names a target with it.
# Binaries start without binfmt_misc (which containers rarely have); the arm64 dynamic loader and
# libraries come from the :arm64 packages in /lib and /usr/lib/aarch64-linux-gnu.
find_program(MAD_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(MAD_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MAD_QEMU_AARCH64})
else()
  message(WARNING "toolchain-aarch64: no qemu-aarch64-static, so the tests cannot be listed or run on this host; "
                  "install it with 'apt-get install qemu-user-static'")
endif()
