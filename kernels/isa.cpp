#include "kernels/isa.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "kernels/isa/kernel_table.h"

namespace mad::kernels {
namespace {

bool cpu_has(Isa isa) {
#if defined(MAD_PORTABLE)
  return isa == Isa::generic;
#else
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XGETBV), so a set reported
  // here can be used. The avx512 kernels need F, BW, CD, DQ and VL (x86-64-v4).
  switch (isa) {
    case Isa::generic: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return cpu_has(Isa::avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl");
    case Isa::avx512bf16: return cpu_has(Isa::avx512) && __builtin_cpu_supports("avx512bf16");
  }
  return false;
#endif
}

std::string fmt_ratio_note(double ratio) {
  char text[96];
  std::snprintf(text, sizeof text, "; VDPBF16PS at %.2fx the FMA rate, so avx512bf16 is not the default", ratio);
  return text;
}

std::string names(const std::vector<Isa>& isas) {
  std::string out;
  for (Isa isa : isas) {
    if (!out.empty()) out += ' ';
    out += isa_name(isa);
  }
  return out;
}

}  // namespace

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::generic: return "generic";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::avx512bf16: return "avx512bf16";
  }
  return "?";
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : kAllIsas)
    if (cpu_has(isa)) out.push_back(isa);
  return out;
}

Isa choose_isa(const char* value, const std::vector<Isa>& supported, bool bf16_dot_pays) {
  if (value == nullptr || *value == '\0')
    return supported.back() == Isa::avx512bf16 && !bf16_dot_pays ? Isa::avx512 : supported.back();
  const std::string_view wanted(value);
  for (Isa isa : kAllIsas) {
    if (isa_name(isa) != wanted) continue;
    for (Isa s : supported)
      if (s == isa) return isa;
    throw std::invalid_argument("MAD_ISA=" + std::string(wanted) + ": this CPU does not support it; it supports " +
                                names(supported) + " (unset MAD_ISA to use the best)");
  }
  std::vector<Isa> all(std::begin(kAllIsas), std::end(kAllIsas));
  throw std::invalid_argument("MAD_ISA=" + std::string(wanted) + " is not an instruction set; valid values are " +
                              names(all) + " (this CPU supports " + names(supported) + ")");
}

double bf16_dot_rate_ratio() {
  static const double ratio = [] {
    const std::vector<Isa> supported = supported_isas();
    if (supported.back() != Isa::avx512bf16) return 0.0;
    const KernelTable& t = kernel_table(Isa::avx512bf16);
    // bf16 first: a clock still ramping up slows the first measurement, and this errs towards avx512.
    constexpr int64_t kIterations = 200000;
    const double bf16 = t.bf16_dot_peak_gflops(kIterations), fma = t.fma_peak_gflops(kIterations);
    return fma > 0 ? bf16 / fma : 0.0;
  }();
  return ratio;
}

namespace {
bool madisa_set() {
  const char* value = std::getenv("MAD_ISA");
  return value != nullptr && *value != '\0';
}
}  // namespace

Isa active_isa() {
  // Decided once; an invalid MAD_ISA rethrows at every call, so no kernel ever runs on a guess.
  struct Choice {
    Isa isa = Isa::generic;
    std::string error;
  };
  static const Choice choice = [] {
    Choice c;
    try {
      const char* value = std::getenv("MAD_ISA");
      c.isa = choose_isa(value, supported_isas(), madisa_set() || bf16_dot_rate_ratio() >= kBf16DotPaysRatio);
    } catch (const std::invalid_argument& e) {
      c.error = e.what();
    }
    return c;
  }();
  if (!choice.error.empty()) throw std::invalid_argument(choice.error);
  return choice.isa;
}

std::string isa_summary() {
  std::string text = std::string(isa_name(active_isa())) + " (supported: " + names(supported_isas());
  if (!madisa_set() && bf16_dot_rate_ratio() > 0 && active_isa() != Isa::avx512bf16)
    text += fmt_ratio_note(bf16_dot_rate_ratio());
  return text + ")";
}

}  // namespace mad::kernels
