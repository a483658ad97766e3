// The op table: every differentiable op madcpp has, in one list.
//
// X(name) generates the OpId enum, the name table and the backward dispatch table (core/op_table.cpp).
// Each op's forward (the public function in core/ops.h) and backward (`backward_<name>`) are written side
// by side in one core/ops_*.cpp file. tests/gradcheck walks this list and fails for any op that no
// gradient check exercises.
#pragma once

#define MAD_OP_LIST(X)                                                                          \
  /* ops_linalg.cpp */ X(matmul)                                                                \
  /* ops_binary.cpp */ X(add) X(sub) X(mul) X(div) X(add_scalar) X(mul_scalar)                  \
  /* ops_unary.cpp */ X(neg) X(exp) X(log) X(sqrt) X(rsqrt) X(abs) X(square) X(pow) X(tanh)      \
      X(sigmoid) X(log_sigmoid) X(softplus) X(relu) X(silu) X(gelu_tanh) X(gelu_erf) X(sin) X(cos) \
  /* ops_reduce.cpp */ X(sum) X(mean) X(max)                                                    \
  /* ops_softmax.cpp */ X(softmax) X(log_softmax) X(cross_entropy)                              \
  /* ops_norm.cpp */ X(rms_norm) X(layer_norm)                                                  \
  /* ops_shape.cpp */ X(reshape) X(permute) X(slice) X(concat)                                  \
  /* ops_select.cpp */ X(embedding) X(where) X(topk_mask) X(dropout)                            \
  /* ops_sequence.cpp */ X(causal_mask) X(cumsum) X(depthwise_conv1d) X(long_conv)              \
  /* ops_attention.cpp */ X(attention) X(rotary) X(rotary_qk) X(attention_packed)               \
  /* ops_xlstm.cpp */ X(mlstm) X(slstm)                                                         \
  /* ops_linear_attention.cpp */ X(causal_linear_attention)                                     \
  /* ops_fused.cpp */ X(swiglu_gate)                                                           \
  /* ops_selective_scan.cpp */ X(selective_scan)                                                \
  /* ops_liquid.cpp */ X(ltc)                                                                 \
  /* ops_linalg.cpp */ X(linear)

namespace mad {

enum class OpId : int {
#define MAD_OP_ENUM(name) name,
  MAD_OP_LIST(MAD_OP_ENUM)
#undef MAD_OP_ENUM
      count
};

inline constexpr int kNumOps = static_cast<int>(OpId::count);

const char* op_name(OpId op);

}  // namespace mad
