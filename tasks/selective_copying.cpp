// Selective copying: n data tokens scattered among blanks, then the copy token and n blanks; the model
// must output the data tokens, in order, at the last n positions.
//
// The n data tokens are uniform with replacement. Each of the L - 2n - 1 blanks is inserted before a data
// token chosen uniformly (numpy.insert at an index in [0, n)), so the last data token always sits right
// before the copy token. We differ from the reference in one respect: it draws those insert positions from
// numpy's unseeded global generator, so its datasets cannot be reproduced; ours come from the seeded
// stream like everything else. No shift: (inputs, targets) = (x, t) for train and test.
#include <algorithm>
#include <vector>

#include "tasks/generator.h"
#include "tasks/token_matrix.h"
#include "tasks/vocabulary.h"

namespace mad::tasks {

namespace {

class SelectiveCopyingGenerator final : public SequenceGenerator {
 public:
  explicit SelectiveCopyingGenerator(const TaskSettings& s)
      : vocab_(vocabulary(s)),
        seq_len_(s.seq_len),
        n_copy_(s.num_tokens_to_copy),
        data_(static_cast<size_t>(n_copy_)),
        blanks_before_(static_cast<size_t>(n_copy_)) {}

  void sample(Rng& rng, Split, std::span<int32_t> inputs, std::span<int32_t> targets) override {
    for (int32_t& token : data_) token = static_cast<int32_t>(rng.randint(vocab_.data.begin, vocab_.data.end));
    std::fill(blanks_before_.begin(), blanks_before_.end(), 0);
    const int64_t n_blanks = seq_len_ - 2 * n_copy_ - 1;
    for (int64_t b = 0; b < n_blanks; ++b) ++blanks_before_[rng.below(static_cast<uint64_t>(n_copy_))];

    size_t p = 0;
    for (size_t i = 0; i < data_.size(); ++i) {
      for (int64_t b = 0; b < blanks_before_[i]; ++b) inputs[p++] = vocab_.blank;
      inputs[p++] = data_[i];
    }
    inputs[p++] = vocab_.copy;
    for (int64_t i = 0; i < n_copy_; ++i) inputs[p++] = vocab_.blank;

    const auto answer_start = static_cast<size_t>(seq_len_ - n_copy_);
    std::fill(targets.begin(), targets.begin() + answer_start, kIgnoreIndex);
    std::copy(data_.begin(), data_.end(), targets.begin() + answer_start);
  }

 private:
  Vocabulary vocab_;
  int64_t seq_len_, n_copy_;
  std::vector<int32_t> data_;
  std::vector<int64_t> blanks_before_;  // blanks inserted before each data token
};

}  // namespace

std::unique_ptr<SequenceGenerator> make_selective_copying_generator(const TaskSettings& settings) {
  return std::make_unique<SelectiveCopyingGenerator>(settings);
}

}  // namespace mad::tasks
