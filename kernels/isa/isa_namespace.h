// The namespace that keeps each instruction set's copy of a kernel apart.
//
// Every file in kernels/isa/ is compiled once per instruction set (kernels/CMakeLists.txt), each time with
// that set's target flags and with MAD_ISA_NS naming its namespace (isa_generic, isa_avx2, isa_avx512,
// isa_avx512bf16). Headers with inline functions that such files use (kernels/vecmath.h,
// kernels/bf16.h) open `inline namespace MAD_ISA_NS`, so the AVX-512 copy of an inline function never
// shares a mangled name with the baseline copy: the linker cannot pick a copy compiled for a wider
// instruction set than the CPU has (the one-definition-rule hazard of per-file target flags).
// tests/kernels/isa_symbols_test.sh checks that an ISA object defines no global or weak symbol outside its
// namespace. Code outside kernels/isa/ gets the baseline namespace.
#pragma once

#ifndef MAD_ISA_NS
#define MAD_ISA_NS isa_baseline
#endif
