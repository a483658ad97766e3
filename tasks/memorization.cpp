// Memorization: recall values of a fixed key-value map that only the weights can hold.
//
// The map is built once per dataset from its own stream of the settings' seed (12345 in every MAD
// setting; the reference builds it from the same seed with a separate generator): keys and values are
// shuffled and zipped, a bijection between the (V-1)/2 keys and as many of the values. A sequence is L/2
// pairs [key, INSERT] with targets [ignored, map[key]], keys uniform with replacement. No shift; train and
// test are fresh draws over the same map.
#include <numeric>
#include <vector>

#include "tasks/generator.h"
#include "tasks/token_matrix.h"
#include "tasks/vocabulary.h"

namespace mad::tasks {

namespace {

// Stream of Rng(seed) reserved for the key-value map, so the map does not depend on how many sequences
// are drawn.
constexpr uint64_t kMapStream = 1;

class MemorizationGenerator final : public SequenceGenerator {
 public:
  explicit MemorizationGenerator(const TaskSettings& s) : vocab_(vocabulary(s)) {
    Rng map_rng = Rng(static_cast<uint64_t>(s.seed)).split(kMapStream);
    std::vector<int32_t> keys(static_cast<size_t>(vocab_.keys.size()));
    std::vector<int32_t> values(static_cast<size_t>(vocab_.values.size()));
    std::iota(keys.begin(), keys.end(), vocab_.keys.begin);
    std::iota(values.begin(), values.end(), vocab_.values.begin);
    map_rng.shuffle(std::span<int32_t>(keys));
    map_rng.shuffle(std::span<int32_t>(values));
    value_of_key_.resize(keys.size());
    // There are never more keys than values ((V-1)/2 <= V-1 - (V-1)/2), so every key is mapped.
    for (size_t i = 0; i < keys.size(); ++i) value_of_key_[keys[i] - vocab_.keys.begin] = values[i];
  }

  void sample(Rng& rng, Split, std::span<int32_t> inputs, std::span<int32_t> targets) override {
    for (size_t p = 0; p + 1 < inputs.size(); p += 2) {
      const auto key = static_cast<int32_t>(rng.randint(vocab_.keys.begin, vocab_.keys.end));
      inputs[p] = key;
      inputs[p + 1] = vocab_.insert;
      targets[p] = kIgnoreIndex;
      targets[p + 1] = value_of_key_[key - vocab_.keys.begin];
    }
  }

 private:
  Vocabulary vocab_;
  std::vector<int32_t> value_of_key_;
};

}  // namespace

std::unique_ptr<SequenceGenerator> make_memorization_generator(const TaskSettings& settings) {
  return std::make_unique<MemorizationGenerator>(settings);
}

}  // namespace mad::tasks
