// The instruction sets madcpp has kernels for, and which one this process uses.
//
// One binary runs on every machine: each hot kernel is compiled once per instruction set (kernels/isa/,
// each copy in its own namespace with its own target flags), and the best set this CPU supports is chosen
// once, at the first kernel call, from cpuid (and, for avx512bf16, a measurement: see choose_isa). The
// environment variable MAD_ISA caps the choice
// (MAD_ISA=generic|avx2|avx512|avx512bf16), for tests and for side-by-side timing; naming a set this CPU
// lacks, or an unknown name, is an error listing the valid names and what the CPU supports.
//
//   generic     portable C++, no intrinsics (the only set on non-x86 targets and in MAD_PORTABLE builds)
//   avx2        AVX2 + FMA (x86-64-v3)
//   avx512      AVX-512 F/BW/CD/DQ/VL (x86-64-v4)
//   avx512bf16  avx512 plus AVX512_BF16 (VDPBF16PS for the bf16 compute mode)
//
// Results are bit-identical for a fixed instruction set, seed and thread count; different sets round
// differently (f32 results agree to about 1e-6 relative, tests/kernels/test_isa.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mad::kernels {

// In increasing order of capability: each set includes the ones before it.
enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2, avx512bf16 = 3 };

inline constexpr Isa kAllIsas[] = {Isa::generic, Isa::avx2, Isa::avx512, Isa::avx512bf16};

std::string_view isa_name(Isa isa);

// The sets this build has kernels for and this CPU can run, in increasing order (generic always).
std::vector<Isa> supported_isas();

// The set MAD_ISA's value selects given the supported sets: the named set, or the best supported one when
// `value` is null or empty. Throws std::invalid_argument with a one-line message for an unknown name or a
// set the CPU lacks.
//
// "Best" passes over avx512bf16 for avx512 unless `bf16_dot_pays`: avx512bf16 differs from avx512 only in
// the bf16 mode's products, which it runs on VDPBF16PS, and CPUs differ in how fast that is. On the Intel
// Xeon (Sapphire Rapids class) this project measured, VDPBF16PS does half the flops per second of float32
// FMAs (86 vs 172 GFLOP/s per core) and the bf16 step took 1.35x the f32 step, whereas rounding while
// packing for the float32 kernel (avx512's bf16 mode) costs 5%.
Isa choose_isa(const char* value, const std::vector<Isa>& supported, bool bf16_dot_pays = true);

// VDPBF16PS's flop rate over float32 FMA's on this CPU, measured once (a few milliseconds); 0 without
// avx512bf16. active_isa() takes avx512bf16 by default when it is at least kBf16DotPaysRatio.
double bf16_dot_rate_ratio();
inline constexpr double kBf16DotPaysRatio = 1.2;

// The set this process uses: choose_isa(getenv("MAD_ISA"), supported_isas(), bf16_dot_rate_ratio() >=
// kBf16DotPaysRatio), decided at the first call (the ratio is measured only without MAD_ISA).
// Throws (at every call) when MAD_ISA is invalid; `mad` calls it at start-up to report that in one line.
Isa active_isa();

// "avx512 (supported: generic avx2 avx512 avx512bf16; VDPBF16PS at 0.50x the FMA rate, so not the
// default)": what --version and mad bench print.
std::string isa_summary();

}  // namespace mad::kernels
