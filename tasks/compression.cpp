// Compression: L-1 uniform data tokens then the compression token; the target is the input itself
// (the reference returns (inputs, inputs)), to be reconstructed by the autoencoder backbone from the
// encoder's output at the last position.
#include <algorithm>

#include "tasks/generator.h"
#include "tasks/vocabulary.h"

namespace mad::tasks {

namespace {

class CompressionGenerator final : public SequenceGenerator {
 public:
  explicit CompressionGenerator(const TaskSettings& s) : vocab_(vocabulary(s)) {}

  void sample(Rng& rng, Split, std::span<int32_t> inputs, std::span<int32_t> targets) override {
    for (size_t p = 0; p + 1 < inputs.size(); ++p) {
      inputs[p] = static_cast<int32_t>(rng.randint(vocab_.data.begin, vocab_.data.end));
    }
    inputs.back() = vocab_.compress;
    std::copy(inputs.begin(), inputs.end(), targets.begin());
  }

 private:
  Vocabulary vocab_;
};

}  // namespace

std::unique_ptr<SequenceGenerator> make_compression_generator(const TaskSettings& settings) {
  return std::make_unique<CompressionGenerator>(settings);
}

}  // namespace mad::tasks
