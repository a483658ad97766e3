// What an architecture costs, layer by layer: parameters, state carried between tokens (mad-protocol.md
// section 7, layers.md section E) and forward FLOPs per token. `mad describe` prints it; sweep plans
// estimate run times from it; iso-state comparisons start from it.
//
// FLOPs: 2 per parameter of the layer (each weight takes part in one multiply-add per token; biases and
// norm weights are counted the same way, a small overestimate) plus the layer's sequence-mixing FLOPs
// (LayerEntry::mixing_flops, e.g. attention's QK^T and AV at the model's sequence length). A training
// step costs about 3x the forward (the backward computes two products per forward product).
//
// Groups (models/graph.h): a layer entry's state and mixing FLOPs are summed over its parts. A shared
// brick's parameters are counted once (in `bricks`, not in the entries that use it), but every use
// carries its own state and costs its FLOPs again.
#pragma once

#include <string>
#include <vector>

#include "models/backbone.h"

namespace mad::models {

struct LayerDescription {
  std::string type;       // the layer name, or a group's summary, e.g. "parallel/add(mh-attention, *mix)"
  int64_t params = 0;     // the layer's own parameters (its pre-norm and the shared bricks it uses excluded)
  StateSize state;        // floats per sequence carried between tokens
  double flops_per_token = 0;  // forward
};

struct BrickDescription {
  std::string name;
  int64_t params = 0;  // counted once
  int uses = 0;        // runs per forward pass
};

struct ArchDescription {
  std::vector<LayerDescription> layers;
  std::vector<BrickDescription> bricks;
  int64_t params = 0;          // every parameter except the token embedding (norms and head included)
  int64_t total_state = 0;     // summed over the layers
  bool fixed_state = true;     // false when some layer's state grows with the sequence
  double flops_per_token = 0;  // forward, whole model (norms, head and embeddings-free layers included)
  int64_t vocab_size = 0, seq_len = 0;

  // Forward + backward FLOPs of one training step on `batch` sequences of seq_len tokens.
  double train_step_flops(int64_t batch) const { return 3.0 * flops_per_token * static_cast<double>(batch * seq_len); }
};

ArchDescription describe(const Model& model);

}  // namespace mad::models
