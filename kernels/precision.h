// The precision of float32 matrix products: f32 (the default) or bf16.
//
// bf16 is the compute mode of mad-lab's bf16 autocast: every float32 matrix product (the Linear layers'
// forward and both backward products, attention's tile products, the other kernels' products) rounds its
// two inputs to bf16 (round to nearest even) and accumulates in float32. Master weights, optimizer state,
// norms, softmax statistics, elementwise ops and the loss stay float32, and float64 (gradient checks) is
// never affected. On CPUs with AVX512_BF16 the products run on VDPBF16PS; elsewhere the rounded values are
// multiplied by the float32 kernel (the same products, summed in another order).
//
// The setting is process-wide (training threads all use it); `PrecisionScope` sets it for a scope.
#pragma once

#include <string>
#include <string_view>

namespace mad::kernels {

enum class Precision { f32, bf16 };

std::string_view precision_name(Precision p);
// Throws std::invalid_argument naming the valid values.
Precision precision_from_name(std::string_view name);

Precision matmul_precision();
void set_matmul_precision(Precision p);

class PrecisionScope {
 public:
  explicit PrecisionScope(Precision p) : previous_(matmul_precision()) { set_matmul_precision(p); }
  ~PrecisionScope() { set_matmul_precision(previous_); }
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  Precision previous_;
};

}  // namespace mad::kernels
