// AdamW with PyTorch's semantics (torch.optim.AdamW, one parameter group):
//   p <- p * (1 - lr * weight_decay)                 (decoupled weight decay; which parameters: groups)
//   m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2
//   p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// The moments live in the parameter block (ParamStore::moment1/2), so a step is one pass over it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/params.h"

namespace mad {

// Which parameters weight decay applies to. all: every parameter (torch.optim.AdamW with one group, as
// mad-lab's main branch does; the default). no_norm_bias: every parameter except norm weights and biases
// and other rank-1 parameters (biases, mamba's D, dt_proj.bias), parameters named "*.bias", and SSM
// parameters named "*A_log" or "*.D" (mamba's A_log is rank 2).
enum class WeightDecayGroups { all, no_norm_bias };
std::string_view weight_decay_groups_name(WeightDecayGroups groups);
// Throws mad::Error naming the valid values ("all", "no_norm_bias").
WeightDecayGroups weight_decay_groups_from_name(std::string_view name);
// Whether no_norm_bias exempts the parameter `entry` from weight decay.
bool exempt_from_weight_decay(const ParamStore::Entry& entry);

struct AdamWConfig {
  double lr = 5e-4;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  WeightDecayGroups weight_decay_groups = WeightDecayGroups::all;
};

class AdamW {
 public:
  AdamW(ParamStore& params, const AdamWConfig& config) : params_(params), config_(config) {}

  // One update from the gradients currently in the block, at learning rate `lr` (the schedule's value).
  void step(double lr);
  int64_t steps() const { return t_; }
  void set_steps(int64_t t) { t_ = t; }  // when resuming from a checkpoint
  const AdamWConfig& config() const { return config_; }

 private:
  ParamStore& params_;
  AdamWConfig config_;
  int64_t t_ = 0;
  std::vector<unsigned char> exempt_;  // no_norm_bias: 1 for each element not decayed (built at the first step)
};

}  // namespace mad
