#!/usr/bin/env bash
# The one-definition-rule hazard of per-file target flags (kernels/isa/isa_namespace.h): an inline function
# or template instantiated in an AVX2 or AVX-512 object under a name shared with other code (std::string's
# operator+, a helper of kernels/check.h) is a weak symbol, and the linker may keep that copy for every
# caller, so a CPU without the instruction set would crash in code that never asked for it. This checks
# that the objects of the avx2, avx512 and avx512bf16 kernels define no global or weak symbol outside
# their own namespace (local symbols cannot be merged with anything).
# Usage: isa_symbols_test.sh OBJECT...   (objects of mad_kernels_isa_<set>; an argument may be a CMake
# list, OBJECT;OBJECT, as $<TARGET_OBJECTS:...> gives)
set -euo pipefail
command -v nm >/dev/null || { echo "isa_symbols_test: skipped: no nm (binutils)"; exit 77; }
[[ $# -gt 0 ]] || { echo "isa_symbols_test: no objects given" >&2; exit 1; }
IFS=';' read -r -a objects <<<"$(IFS=';'; echo "$*")"
status=0
checked=0
for object in "${objects[@]}"; do
  set_name=$(basename "$(dirname "$(dirname "$object")")" .dir)  # .../mad_kernels_isa_avx2.dir/isa/x.cpp.o
  set_name=${set_name#mad_kernels_isa_}
  [[ $set_name == generic ]] && continue  # baseline flags: whichever copy the linker keeps runs everywhere
  checked=$((checked + 1))
  # Global and weak definitions (text, weak, unique, data, read-only data, bss), demangled; the
  # exception-handling personality reference is data every C++ object carries.
  outside=$(nm -C --defined-only "$object" | awk '$2 ~ /^[TWVuDRBi]$/ { $1 = ""; $2 = ""; print substr($0, 3) }' |
            grep -v "isa_${set_name}::" | grep -v -x "DW.ref.__gxx_personality_v0" || true)
  if [[ -n $outside ]]; then
    echo "isa_symbols_test: $object ($set_name) defines symbols outside namespace isa_$set_name:" >&2
    echo "$outside" | sed 's/^/  /' >&2
    status=1
  fi
done
[[ $status -eq 0 ]] && echo "isa_symbols_test: $checked objects, no global symbol outside its instruction set's namespace"
exit $status
