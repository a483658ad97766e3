// This instruction set's KernelTable (kernels/isa/kernel_table.h), compiled once per set.
#include "kernels/isa/isa_exports.h"

namespace mad::kernels::MAD_ISA_NS {
namespace {

KernelTable make_table() {
  KernelTable t{};
  t.isa = Isa::MAD_ISA_ENUM;
  t.sgemm = sgemm_f32;
  t.sgemm_bf16 = sgemm_bf16;
  t.attention_forward = attention_forward_f32;
  t.attention_backward = attention_backward_f32;
  fill_unary_tables(t.unary_forward, t.unary_backward);
  t.swiglu_forward = swiglu_forward;
  t.swiglu_grad_b = swiglu_grad_b;
  t.swiglu_grad_a = swiglu_grad_a;
  t.swiglu_grad_a_over_g = swiglu_grad_a_over_g;
  t.fma_peak_gflops = fma_peak_gflops;
  t.bf16_dot_peak_gflops = bf16_dot_peak_gflops;
  return t;
}

}  // namespace

const KernelTable& isa_kernel_table() {
  static const KernelTable table = make_table();
  return table;
}

}  // namespace mad::kernels::MAD_ISA_NS
