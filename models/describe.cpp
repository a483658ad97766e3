#include "models/describe.h"

#include <map>

namespace mad::models {

ArchDescription describe(const Model& model) {
  const ArchSpec& spec = model.spec();
  BuildContext ctx;
  ctx.dim = spec.dim;
  ctx.seq_len = model.seq_len();
  ctx.registry = &model.registry();
  ArchDescription d;
  d.vocab_size = model.vocab_size();
  d.seq_len = model.seq_len();
  d.params = model.params_without_embeddings();
  // Weights outside the layers (norms, head) and the shared bricks once: 2 FLOPs per parameter per token;
  // every further use of a brick adds its weight products again (below).
  double flops = 2.0 * static_cast<double>(d.params);
  std::map<std::string, int> all_uses;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& layer = spec.layers[i];
    const LayerEntry& entry = model.registry().find(layer.type);
    LayerDescription l;
    l.type = node_summary(layer.type, layer.config);
    l.params = model.layer_params(i);
    l.state = model.layer_state(i);
    const double mixing = entry.mixing_flops ? entry.mixing_flops(layer.config, ctx) : 0.0;
    std::map<std::string, int> uses;
    count_brick_uses(layer.type, layer.config, uses);
    double brick_weights = 0;
    for (const auto& [name, n] : uses) {
      brick_weights += n * static_cast<double>(model.brick_params(name));
      all_uses[name] += n;
    }
    l.flops_per_token = 2.0 * (static_cast<double>(l.params) + brick_weights) + mixing;
    flops += mixing + 2.0 * brick_weights;
    d.total_state += l.state.floats;
    d.fixed_state = d.fixed_state && l.state.fixed;
    d.layers.push_back(l);
  }
  for (const auto& [name, n] : all_uses) {
    d.bricks.push_back({name, model.brick_params(name), n});
    flops -= 2.0 * static_cast<double>(model.brick_params(name));  // counted once in d.params already
  }
  d.flops_per_token = flops;
  return d;
}

}  // namespace mad::models
