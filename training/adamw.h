// AdamW with PyTorch's semantics (torch.optim.AdamW, one parameter group):
//   p <- p * (1 - lr * weight_decay)                 (decoupled weight decay, every parameter)
//   m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2
//   p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// The moments live in the parameter block (ParamStore::moment1/2), so a step is one pass over it.
#pragma once

#include "core/params.h"

namespace mad {

struct AdamWConfig {
  double lr = 5e-4;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
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
};

}  // namespace mad
