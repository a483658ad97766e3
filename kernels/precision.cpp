#include "kernels/precision.h"

#include <atomic>
#include <stdexcept>
#include <string>

namespace mad::kernels {
namespace {
std::atomic<Precision> g_precision{Precision::f32};
}  // namespace

std::string_view precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "f32"; }

Precision precision_from_name(std::string_view name) {
  if (name == "f32") return Precision::f32;
  if (name == "bf16") return Precision::bf16;
  throw std::invalid_argument("unknown precision '" + std::string(name) + "'; valid values are f32 and bf16");
}

Precision matmul_precision() { return g_precision.load(std::memory_order_relaxed); }
void set_matmul_precision(Precision p) { g_precision.store(p, std::memory_order_relaxed); }

}  // namespace mad::kernels
