// The MAD metrics (mad-protocol.md section 4), computed exactly as the reference computes them.
//
// MAD accuracy of one batch (torchmetrics' MulticlassAccuracy, average="macro", ignore_index=-100, on the
// argmax predictions): drop positions whose target is ignored; for every class c that occurs among the
// remaining targets or predictions, recall_c = tp_c / (number of targets equal to c), 0 for a class that
// is only predicted; the batch accuracy is the mean of recall_c over those classes. Token accuracy is the
// plain (micro) fraction of correct labelled positions. An epoch value is the batch-size-weighted mean of
// batch values (Lightning's on_epoch logging); perplexity is exp(loss) per batch, averaged the same way.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"

namespace mad {

inline constexpr int32_t kIgnoreIndex = -100;

struct BatchAccuracy {
  double mad = 0;    // macro recall over present classes
  double token = 0;  // micro accuracy
  int64_t labelled = 0;
};

// logits [N, V] (float32 or float64; the argmax takes the first maximum, as torch.argmax), targets [N].
// `scratch` holds 3 * V counters and is reused between calls (no allocation once sized).
BatchAccuracy batch_accuracy(const Tensor& logits, std::span<const int32_t> targets, std::vector<int64_t>& scratch);

// The metrics of one split over one epoch.
struct SplitMetrics {
  double loss = 0, ppl = 0, acc = 0, token_acc = 0;
};

// Batch-size-weighted means of batch values.
class EpochAccumulator {
 public:
  void add(int64_t batch_size, double loss, const BatchAccuracy& acc);
  SplitMetrics result() const;
  int64_t count() const { return n_; }

 private:
  int64_t n_ = 0;
  double loss_ = 0, ppl_ = 0, acc_ = 0, token_ = 0;
};

}  // namespace mad
