// MQAR, multi-query associative recall (Arora, Eyuboglu et al., "Zoology: Measuring and improving recall
// in efficient language models"; zoology/data/associative_recall.py, multiquery_ar / _mqar). Not a MAD
// task: reachable by name, outside the protocol grid and the MAD score.
//
// With n = num_kv_pairs, L = seq_len and V = vocab_size, a sequence is
//   positions [0, 2n):  k1 v1 k2 v2 ... kn vn, keys distinct from [1, V/2), values distinct from [V/2, V);
//   positions [2n, L):  space = (L - 2n) / 2 query slots of two tokens; key k_j is queried at position
//                       2n + 2 g_j, where the gaps g_1..g_n are drawn without replacement with
//                       P(g) ~ (g + 1)^(power_a - 1), g in [0, space) (g_1 from the full distribution,
//                       each later one from the rest, renormalised: numpy's choice(replace=False, p=...)).
// Every other position (the token after each query and the unused slots) holds a token uniform over
// [0, V) (zoology's random_non_queries, its default). Targets: v_j at k_j's query position, every other
// target ignored (kIgnoreIndex, zoology's -100). Train and test are labelled alike.
//
// Zoology builds examples of L + 1 tokens (the pairs, then L - 2n + 1 query tokens with the key at
// 2n + 2g and its value's label at 2n + 2g + 1) and returns (examples[:, :-1], labels[:, 1:]): inputs and
// labels of L tokens with the value labelled at the query key's own position. That is the pair written
// here directly, with no shift: inputs and targets of seq_len tokens.
//
// Draws come from our Rng, not numpy's stream: the distribution matches zoology's, not the tokens.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "tasks/generator.h"
#include "tasks/token_matrix.h"
#include "tasks/vocabulary.h"

namespace mad::tasks {

namespace {

class MqarGenerator final : public SequenceGenerator {
 public:
  explicit MqarGenerator(const TaskSettings& s)
      : vocab_size_(s.vocab_size),
        pairs_(s.num_kv_pairs),
        keys_(static_cast<size_t>(vocabulary(s).keys.size())),
        values_(static_cast<size_t>(vocabulary(s).values.size())) {
    const Vocabulary vocab = vocabulary(s);
    std::iota(keys_.begin(), keys_.end(), vocab.keys.begin);
    std::iota(values_.begin(), values_.end(), vocab.values.begin);
    const int64_t space = (s.seq_len - 2 * s.num_kv_pairs) / 2;
    gap_weight_.resize(static_cast<size_t>(space));
    // zoology: p = power_a * arange(1, space + 1) ** (power_a - 1), normalised (the factor power_a cancels).
    for (size_t g = 0; g < gap_weight_.size(); ++g) {
      gap_weight_[g] = std::pow(static_cast<double>(g + 1), s.power_a - 1.0);
    }
  }

  void sample(Rng& rng, Split, std::span<int32_t> inputs, std::span<int32_t> targets) override {
    constexpr int32_t kUnset = -1;
    std::fill(inputs.begin(), inputs.end(), kUnset);
    std::fill(targets.begin(), targets.end(), kIgnoreIndex);
    // Partial Fisher-Yates over the pools: the first `pairs_` entries are a uniform ordered sample without
    // replacement, whatever order earlier sequences left the pool in.
    const auto n = static_cast<size_t>(pairs_);
    draw_distinct(rng, keys_, n);
    draw_distinct(rng, values_, n);
    draw_gaps(rng, n);
    for (size_t j = 0; j < n; ++j) {
      inputs[2 * j] = keys_[j];
      inputs[2 * j + 1] = values_[j];
      const size_t query = 2 * n + 2 * gaps_[j];
      inputs[query] = keys_[j];
      targets[query] = values_[j];
    }
    for (int32_t& token : inputs) {
      if (token == kUnset) token = static_cast<int32_t>(rng.randint(0, vocab_size_));
    }
  }

 private:
  static void draw_distinct(Rng& rng, std::vector<int32_t>& pool, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const size_t j = i + static_cast<size_t>(rng.below(pool.size() - i));
      std::swap(pool[i], pool[j]);
    }
  }

  // Successive sampling: each gap from the weights of the gaps not yet taken.
  void draw_gaps(Rng& rng, size_t n) {
    remaining_ = gap_weight_;
    gaps_.resize(n);
    for (size_t j = 0; j < n; ++j) {
      double total = 0.0;
      for (double w : remaining_) total += w;
      const double u = rng.uniform() * total;
      double cumulative = 0.0;
      size_t pick = remaining_.size();
      size_t last = 0;  // the last gap still available, for a u that rounding puts past the end
      for (size_t g = 0; g < remaining_.size(); ++g) {
        if (remaining_[g] == 0.0) continue;
        last = g;
        cumulative += remaining_[g];
        if (u < cumulative) {
          pick = g;
          break;
        }
      }
      if (pick == remaining_.size()) pick = last;
      gaps_[j] = pick;
      remaining_[pick] = 0.0;
    }
  }

  int64_t vocab_size_;
  int64_t pairs_;
  std::vector<int32_t> keys_, values_;  // pools, permuted in place
  std::vector<double> gap_weight_;      // unnormalised P(gap g)
  std::vector<double> remaining_;       // gap_weight_ with the gaps taken set to 0
  std::vector<size_t> gaps_;            // the gap of each pair's query
};

}  // namespace

std::unique_ptr<SequenceGenerator> make_mqar_generator(const TaskSettings& settings) {
  return std::make_unique<MqarGenerator>(settings);
}

}  // namespace mad::tasks
