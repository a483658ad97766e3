// In-context recall and noisy in-context recall (one generator; the noisy task only sets frac_noise).
//
// A sequence of L tokens is L/2 - 1 key-value pairs followed by a probe pair. Keys are drawn uniformly
// with replacement; a key's first occurrence draws its value uniformly (values may repeat across keys),
// later occurrences repeat it. A value is labelled iff its key was shown earlier. The probe is a key
// drawn uniformly from the distinct keys shown, followed by its value, always labelled. With frac_noise,
// each pair except one protected index is replaced with that probability by two uniform noise tokens
// (targets ignored). As in the reference, the protected index is drawn from all L/2 pairs, so when it
// falls on the probe's slot no pair is protected.
//
// Train pairs are (x[:-1], x[1:]) (next-token prediction everywhere); test pairs are (x[:-1], t[1:])
// (only the recall positions).
#include <algorithm>
#include <vector>

#include "tasks/generator.h"
#include "tasks/token_matrix.h"
#include "tasks/vocabulary.h"

namespace mad::tasks {

namespace {

class RecallGenerator final : public SequenceGenerator {
 public:
  explicit RecallGenerator(const TaskSettings& s)
      : vocab_(vocabulary(s)),
        seq_len_(s.seq_len),
        frac_noise_(s.frac_noise),
        x_(static_cast<size_t>(s.seq_len)),
        t_(static_cast<size_t>(s.seq_len)) {}

  void sample(Rng& rng, Split split, std::span<int32_t> inputs, std::span<int32_t> targets) override {
    // With heavy noise every pair can be noise, leaving no key to probe; the reference fails on such a
    // sequence (about 1e-8 per sequence at frac_noise 0.8, L 128), we draw it again.
    while (!draw(rng)) {
    }
    const auto n = static_cast<size_t>(seq_len_ - 1);
    std::copy_n(x_.begin(), n, inputs.begin());
    const std::vector<int32_t>& labels = split == Split::Train ? x_ : t_;
    std::copy_n(labels.begin() + 1, n, targets.begin());
  }

 private:
  // Fills x_ (tokens) and t_ (recall labels, unshifted). Returns false if no key was shown.
  bool draw(Rng& rng) {
    value_of_key_.assign(static_cast<size_t>(vocab_.keys.size()), -1);
    shown_keys_.clear();
    const int64_t pairs = seq_len_ / 2;
    const int64_t protected_pair = rng.randint(0, pairs);
    for (int64_t i = 0; i < pairs - 1; ++i) {
      int32_t* x = &x_[2 * i];
      int32_t* t = &t_[2 * i];
      if (frac_noise_ > 0 && i != protected_pair && rng.uniform() < frac_noise_) {
        x[0] = draw_from(rng, vocab_.noise);
        x[1] = draw_from(rng, vocab_.noise);
        t[0] = t[1] = kIgnoreIndex;
        continue;
      }
      const int32_t key = draw_from(rng, vocab_.keys);
      int32_t& value = value_of_key_[key - vocab_.keys.begin];
      const bool seen = value >= 0;
      if (!seen) {
        value = draw_from(rng, vocab_.values);
        shown_keys_.push_back(key);
      }
      x[0] = key;
      x[1] = value;
      t[0] = kIgnoreIndex;
      t[1] = seen ? value : kIgnoreIndex;
    }
    if (shown_keys_.empty()) return false;
    const int32_t probe = shown_keys_[rng.below(shown_keys_.size())];
    const int32_t probe_value = value_of_key_[probe - vocab_.keys.begin];
    x_[seq_len_ - 2] = probe;
    x_[seq_len_ - 1] = probe_value;
    t_[seq_len_ - 2] = kIgnoreIndex;
    t_[seq_len_ - 1] = probe_value;
    return true;
  }

  static int32_t draw_from(Rng& rng, TokenRange range) {
    return static_cast<int32_t>(rng.randint(range.begin, range.end));
  }

  Vocabulary vocab_;
  int64_t seq_len_;
  double frac_noise_;
  std::vector<int32_t> x_, t_;
  std::vector<int32_t> value_of_key_;  // -1 until the key is shown
  std::vector<int32_t> shown_keys_;    // distinct keys in order of first appearance
};

}  // namespace

std::unique_ptr<SequenceGenerator> make_recall_generator(const TaskSettings& settings) {
  return std::make_unique<RecallGenerator>(settings);
}

}  // namespace mad::tasks
