#include "models/backbone.h"

#include <cmath>

#include "models/wiring_graph.h"

namespace mad::models {

std::string_view backbone_name(BackboneKind kind) {
  return kind == BackboneKind::language_model ? "language-model" : "autoencoder";
}

namespace {
config::Value to_node(const LayerSpec& l) {
  config::Value node = l.config;
  node.set("type", config::Value(l.type));
  return node;
}
}  // namespace

Var Model::Norm::operator()(Tape& tape, Var x) const {
  constexpr double kEps = 1e-5;
  if (bias.defined()) return layer_norm(x, weight.on(tape), bias.on(tape), kEps);
  return rms_norm(x, weight.on(tape), kEps);
}

Model::Norm Model::make_norm(const ParamScope& scope) const {
  Norm n;
  n.weight = scope.param("weight", {spec_.dim}, Init::ones());
  if (spec_.norm == "layernorm") n.bias = scope.param("bias", {spec_.dim}, Init::zeros());
  return n;
}

Model::Model(const ArchSpec& spec, BackboneKind kind, int64_t vocab_size, int64_t seq_len, DType dtype,
             const LayerRegistry& registry)
    : spec_(spec), kind_(kind), vocab_(vocab_size), seq_len_(seq_len), registry_(registry), params_(dtype) {
  MAD_CHECK(vocab_size > 1, "model: vocabulary size must be at least 2, got {}", vocab_size);
  MAD_CHECK(seq_len > 0, "model: sequence length must be positive, got {}", seq_len);
  MAD_CHECK(kind == BackboneKind::language_model || spec.dim % 2 == 0,
            "model: the autoencoder's sin/cos positions need an even width, got dim {}", spec.dim);
  const bool ae = kind == BackboneKind::autoencoder;
  ParamScope root(params_);
  bricks_ = std::make_unique<BrickTable>(BrickTable{root.sub("bricks"), {}});
  ctx_ = {spec.dim, seq_len, ae ? LinearInit::normal_002 : LinearInit::pytorch_default, &registry, bricks_.get()};
  const int64_t D = spec.dim;
  embedding_ = root.sub("token_embeds").param("weight", {vocab_size, D}, Init::normal(0, 0.02));
  const ParamScope blocks = root.sub(ae ? "encoder" : "model");
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    const ParamScope block = blocks.sub(static_cast<int>(i));
    // A wiring with wrap: false brings its own norms and residual adds (models/wiring_graph.h).
    wrapped_.push_back(!brings_own_residual(to_node(l)));
    norms_.push_back(wrapped_.back() ? make_norm(block.sub(ae ? "0" : "norm")) : Norm{});
    const ParamScope layer_scope = block.sub(ae ? "1" : "layer");
    layer_prefixes_.push_back(layer_scope.prefix() + ".");
    try {
      layers_.push_back(registry.find(l.type).build(l.config, layer_scope, ctx_));
    } catch (const Error& e) {
      fail(fmt::format("layer {} ({}): {}", i, l.type, e.what()));
    }
  }
  if (ae) {
    const ParamScope dec = root.sub("decoder");
    dec_norm1_ = make_norm(dec.sub("0"));
    dec_fc1_ = Linear(dec.sub("1"), D, D, true, ctx_);
    dec_norm2_ = make_norm(dec.sub("3"));
    dec_fc2_ = Linear(dec.sub("4"), D, D, true, ctx_);
    final_norm_ = make_norm(root.sub("unembed").sub("0"));
    head_ = Linear(root.sub("unembed").sub("1"), D, vocab_size, true, ctx_);
    positions_ = sincos_positions(seq_len, D, dtype);
  } else {
    final_norm_ = make_norm(root.sub("unembed").sub("norm"));
    head_ = Linear(root.sub("unembed").sub("lm_head"), D, vocab_size, true, ctx_);
  }
}

Var Model::logits(Tape& tape, const Tensor& tokens) const {
  MAD_CHECK(params_.finalized(), "model: call initialize() (or load a checkpoint) before running it");
  MAD_CHECK(tokens.rank() == 2 && tokens.dim(1) <= seq_len_,
            "model: tokens must be [batch, length] with length <= {}, got {}", seq_len_, tokens.shape().str());
  const int64_t T = tokens.dim(1);
  Var x = embedding(embedding_.on(tape), tokens);  // [B, T, D]
  // The residual sum may take the memory of the layer's output, which nothing else reads.
  for (size_t i = 0; i < layers_.size(); ++i)
    x = wrapped_[i] ? add_into(x, layers_[i]->forward(tape, norms_[i](tape, x))) : layers_[i]->forward(tape, x);
  if (kind_ == BackboneKind::language_model) return head_(tape, final_norm_(tape, x));

  Var h = slice(x, 1, T - 1, T);                                  // [B, 1, D]: the last position
  Var d = h + tape.constant(positions_.rows(0, T));               // [B, T, D]
  d = gelu_erf(dec_fc1_(tape, dec_norm1_(tape, d)));
  d = gelu_erf(dec_fc2_(tape, dec_norm2_(tape, d)));
  return head_(tape, final_norm_(tape, d));
}

int64_t Model::layer_params(size_t i) const {
  int64_t n = 0;
  for (const auto& e : params_.entries())
    if (e.name.rfind(layer_prefixes_.at(i), 0) == 0) n += e.shape.numel() - e.init.masked_count();
  return n;
}

int64_t Model::brick_params(const std::string& name) const {
  const std::string prefix = bricks_->scope.prefix() + "." + name + ".";
  int64_t n = 0;
  for (const auto& e : params_.entries())
    if (e.name.rfind(prefix, 0) == 0) n += e.shape.numel() - e.init.masked_count();
  return n;
}

// Effective parameters: the fixed zeros of wiring masks (models/projection_mask.h) are not counted.
int64_t Model::params_without_embeddings() const {
  int64_t masked = 0;
  for (const auto& e : params_.entries()) masked += e.init.masked_count();
  return params_.num_params() - masked - params_.entry(embedding_.index()).shape.numel();
}

StateSize Model::layer_state(size_t i) const {
  const LayerSpec& l = spec_.layers.at(i);
  return registry_.find(l.type).state(l.config, ctx_);
}

Tensor sincos_positions(int64_t length, int64_t dim, DType dtype) {
  const int64_t half = dim / 2;
  const double step = std::log(10000.0) / static_cast<double>(half - 1);
  Tensor pe = Tensor::zeros({length, dim}, DType::F32);
  float* p = pe.data<float>();
  for (int64_t i = 0; i < half; ++i) {
    // torch.exp(torch.arange(half, dtype=float) * -step): the product and exp in float32.
    const float freq = std::exp(static_cast<float>(i) * static_cast<float>(-step));
    for (int64_t t = 0; t < length; ++t) {
      const float angle = static_cast<float>(t) * freq;
      p[t * dim + i] = std::sin(angle);
      p[t * dim + half + i] = std::cos(angle);
    }
  }
  return dtype == DType::F32 ? pe : pe.to(dtype);
}

}  // namespace mad::models
