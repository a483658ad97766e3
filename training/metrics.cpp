#include "training/metrics.h"

#include <cmath>

namespace mad {

BatchAccuracy batch_accuracy(const Tensor& logits, std::span<const int32_t> targets, std::vector<int64_t>& scratch) {
  MAD_CHECK(logits.rank() == 2 && logits.dim(0) == static_cast<int64_t>(targets.size()),
            "batch_accuracy: logits {} and {} targets do not match", logits.shape().str(), targets.size());
  const int64_t N = logits.dim(0), V = logits.dim(1);
  scratch.assign(static_cast<size_t>(3 * V), 0);
  int64_t* true_pos = scratch.data();
  int64_t* target_count = true_pos + V;
  int64_t* pred_count = target_count + V;
  BatchAccuracy out;
  dispatch_float(logits.dtype(), "batch_accuracy", [&]<typename T>() {
    const T* p = logits.data<T>();
    for (int64_t i = 0; i < N; ++i) {
      const int32_t t = targets[static_cast<size_t>(i)];
      if (t == kIgnoreIndex) continue;
      MAD_CHECK(t >= 0 && t < V, "batch_accuracy: target {} outside [0, {})", t, V);
      const T* row = p + i * V;
      int64_t best = 0;
      for (int64_t v = 1; v < V; ++v)
        if (row[v] > row[best]) best = v;
      ++target_count[t];
      ++pred_count[best];
      if (best == t) ++true_pos[t];
      ++out.labelled;
    }
  });
  if (out.labelled == 0) return out;
  double recall_sum = 0;
  int64_t classes = 0, correct = 0;
  for (int64_t c = 0; c < V; ++c) {
    if (target_count[c] == 0 && pred_count[c] == 0) continue;
    ++classes;
    correct += true_pos[c];
    if (target_count[c] > 0) recall_sum += static_cast<double>(true_pos[c]) / static_cast<double>(target_count[c]);
  }
  out.mad = recall_sum / static_cast<double>(classes);
  out.token = static_cast<double>(correct) / static_cast<double>(out.labelled);
  return out;
}

void EpochAccumulator::add(int64_t batch_size, double loss, const BatchAccuracy& acc) {
  const auto w = static_cast<double>(batch_size);
  n_ += batch_size;
  loss_ += w * loss;
  ppl_ += w * std::exp(loss);
  acc_ += w * acc.mad;
  token_ += w * acc.token;
}

SplitMetrics EpochAccumulator::result() const {
  if (n_ == 0) return {};
  const auto n = static_cast<double>(n_);
  return {loss_ / n, ppl_ / n, acc_ / n, token_ / n};
}

}  // namespace mad
