// The two MAD backbones (mad-protocol.md section 5), built from an architecture spec.
//
// language model: token embedding N(0, 0.02), no positional embedding; for every layer entry
//   x = x + layer(norm(x)); then norm and an untied Linear(D, V) with bias. Linear weights keep PyTorch's
//   default U(+-1/sqrt(fan_in)); every Linear bias starts at 0.
// autoencoder (compression): the same encoder without the final norm; the output at the last position h
//   is decoded at every position p from h + PE[p] (fixed sin/cos positions) through
//   norm, Linear(D, D), GELU, norm, Linear(D, D), GELU, then norm and Linear(D, V). Every Linear weight,
//   including the layers', is N(0, 0.02), biases 0 (the reference's `_init_weights`).
// Parameter names follow the reference's PyTorch state_dict (token_embeds.weight, model.0.norm.weight,
// model.0.layer.Wqkv.weight, ..., unembed.lm_head.bias), so weights can be compared one to one.
// A layer entry may be a group (models/graph.h): it is wrapped like any other entry, x = x + group(norm(x)).
// Shared bricks keep their parameters once, under bricks.<name>.* (declared where first used).
#pragma once

#include <memory>
#include <vector>

#include "core/module.h"
#include "models/arch_spec.h"
#include "models/graph.h"

namespace mad::models {

enum class BackboneKind { language_model, autoencoder };
std::string_view backbone_name(BackboneKind kind);

class Model : public Module {
 public:
  // Declares every parameter; call initialize() before use. `seq_len` is the length of the model's inputs.
  Model(const ArchSpec& spec, BackboneKind kind, int64_t vocab_size, int64_t seq_len, DType dtype = DType::F32,
        const LayerRegistry& registry = builtin_layers());
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // Allocates the parameter block and initialises it from `seed`.
  void initialize(uint64_t seed) { params_.finalize(seed); }

  // tokens [B, T] int32 (T <= seq_len) -> logits [B, T, V]
  Var logits(Tape& tape, const Tensor& tokens) const override;

  ParamStore& params() override { return params_; }
  const ParamStore& params() const { return params_; }
  const ArchSpec& spec() const { return spec_; }
  const LayerRegistry& registry() const { return registry_; }
  BackboneKind kind() const { return kind_; }
  int64_t vocab_size() const override { return vocab_; }
  int64_t seq_len() const { return seq_len_; }

  // Parameters of layer entry i (without its norm and without the shared bricks it uses), and all
  // parameters except the token embedding.
  int64_t layer_params(size_t i) const;
  // Parameters of shared brick `name` (counted once however often it is used).
  int64_t brick_params(const std::string& name) const;
  int64_t params_without_embeddings() const;
  // State floats per sequence of layer entry i at this model's sequence length.
  StateSize layer_state(size_t i) const;

 private:
  // RMSNorm (weight) or LayerNorm (weight and bias), eps 1e-5, over the last axis.
  struct Norm {
    Param weight, bias;
    Var operator()(Tape& tape, Var x) const;
  };
  Norm make_norm(const ParamScope& scope) const;

  ArchSpec spec_;
  BackboneKind kind_;
  int64_t vocab_, seq_len_;
  const LayerRegistry& registry_;
  BuildContext ctx_;
  ParamStore params_;
  std::unique_ptr<BrickTable> bricks_;  // the shared bricks, built by their first use
  Param embedding_;
  std::vector<Norm> norms_;
  std::vector<bool> wrapped_;  // false: the entry brings its own norms and residual
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::string> layer_prefixes_;
  // language model head
  Norm final_norm_;
  Linear head_;
  // autoencoder decoder
  Norm dec_norm1_, dec_norm2_;
  Linear dec_fc1_, dec_fc2_;
  Tensor positions_;  // [seq_len, D] fixed sin/cos decoder positions
};

// The reference's posemb_sincos_1d: PE[p] = [sin(p f_0..f_{h-1}), cos(p f_0..f_{h-1})], h = D/2,
// f_i = exp(-i ln(10000) / (h - 1)), computed in float32 as PyTorch does. Shape [length, D].
Tensor sincos_positions(int64_t length, int64_t dim, DType dtype);

}  // namespace mad::models
