// The learning-rate schedule of the reference: cosine annealing stepped once per epoch, no warm-up.
//   lr(e) = min_lr + (lr - min_lr) * (1 + cos(pi * e / epochs)) / 2,   e = 0, 1, ..., epochs - 1
// (PyTorch's CosineAnnealingLR with T_max = epochs, eta_min = min_lr, in closed form.)
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace mad {

inline double cosine_lr(double lr, double min_lr, int64_t epoch, int64_t epochs) {
  return min_lr + (lr - min_lr) * (1.0 + std::cos(std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(epochs))) / 2.0;
}

}  // namespace mad
