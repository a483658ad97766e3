// A layer of a MAD model: a map [B, T, D] -> [B, T, D] with parameters in the model's ParamStore.
//
// Layers are built by name from the registry (models/registry.h) with a resolved configuration; the
// backbone wraps each one as x = x + layer(norm(x)).
#pragma once

#include <memory>

#include "config/value.h"
#include "core/ops.h"
#include "core/params.h"
#include "models/projection_mask.h"

namespace mad::models {

class LayerRegistry;
struct BrickTable;

// How the backbone initialises plain Linear weights: the language model keeps PyTorch's default
// U(+-1/sqrt(fan_in)) (and a layer's own special inits), the autoencoder re-initialises every Linear weight
// to N(0, 0.02), as the reference's `_init_weights` does.
enum class LinearInit { pytorch_default, normal_002 };

// What a layer needs to know about the model it is built into.
struct BuildContext {
  int64_t dim = 128;       // model width D
  int64_t seq_len = 128;   // the sequence length the model will see (for windows and filters)
  LinearInit linear_init = LinearInit::pytorch_default;
  // For composite layers (models/graph.h): the registry their parts are built from (null: the built-in
  // one) and the model's shared bricks (null: a brick use builds its own, unshared copy).
  const LayerRegistry* registry = nullptr;
  BrickTable* bricks = nullptr;

  // The initialiser for a Linear weight whose layer would use `preferred` (default: PyTorch's).
  Init linear_weight(Init preferred = Init::uniform_fan_in()) const {
    return linear_init == LinearInit::normal_002 ? Init::normal(0, 0.02) : preferred;
  }
};

class Layer {
 public:
  virtual ~Layer() = default;
  // x [B, T, D] -> [B, T, D]
  virtual Var forward(Tape& tape, Var x) const = 0;
};

// y = x (W * M)^T (+ b): weight [out, in] (PyTorch's layout and name), bias [out], both under `scope`; M is an
// optional fixed wiring mask (models/projection_mask.h), absent by default.
// Biases start at zero (the reference zeroes every Linear bias).
class Linear {
 public:
  Linear() = default;
  Linear(const ParamScope& scope, int64_t in, int64_t out, bool bias, const BuildContext& ctx,
         Init weight_init = Init::uniform_fan_in(), ProjectionMask mask = {});
  // x [..., in] -> [..., out]
  Var operator()(Tape& tape, Var x) const;
  int64_t in() const { return in_; }
  int64_t out() const { return out_; }

 private:
  Param weight_, bias_;
  ProjectionMask mask_;
  int64_t in_ = 0, out_ = 0;
};

}  // namespace mad::models
