#include "models/describe.h"

namespace mad::models {

ArchDescription describe(const Model& model) {
  const ArchSpec& spec = model.spec();
  BuildContext ctx;
  ctx.dim = spec.dim;
  ctx.seq_len = model.seq_len();
  ArchDescription d;
  d.vocab_size = model.vocab_size();
  d.seq_len = model.seq_len();
  d.params = model.params_without_embeddings();
  // Weights outside the layers (norms, head): 2 FLOPs per parameter per token as well.
  double flops = 2.0 * static_cast<double>(d.params);
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& layer = spec.layers[i];
    const LayerEntry& entry = model.registry().find(layer.type);
    LayerDescription l;
    l.type = layer.type;
    l.params = model.layer_params(i);
    l.state = model.layer_state(i);
    const double mixing = entry.mixing_flops ? entry.mixing_flops(layer.config, ctx) : 0.0;
    l.flops_per_token = 2.0 * static_cast<double>(l.params) + mixing;
    flops += mixing;
    d.total_state += l.state.floats;
    d.fixed_state = d.fixed_state && l.state.fixed;
    d.layers.push_back(l);
  }
  d.flops_per_token = flops;
  return d;
}

}  // namespace mad::models
