// Fuzzy in-context recall: keys and values are motifs, ordered runs of distinct tokens.
//
// Train sequences use key sizes uniform in 1..k_motif_size, test sequences keys of exactly k_motif_size;
// value sizes are uniform in 1..v_motif_size in both. A motif of size s is a uniformly random ordered
// s-permutation of the key (value) tokens; the reference shuffles the list of all permutations and picks
// one, which is the same distribution.
//
// A probe pair is drawn first. Pairs are appended while the sequence is shorter than
// L - |probe| - (k_motif_size + v_motif_size); once the length reaches probe_idx ~ U[0, L - 2|probe|) the
// probe pair itself is inserted (unlabelled). Drawing the probe key as an ordinary key gives it the
// probe value and also counts as inserting it. A value is labelled iff its key was shown before. The probe
// key and value close the sequence (the value always labelled), which is left-padded to L+1 and shifted.
// When the loop ends before probe_idx is reached and the probe key was never drawn, the final probe is
// unanswerable (about 2% of test sequences at L=128); the reference keeps such sequences, and so do we:
// they set the task's accuracy ceiling.
#include <algorithm>
#include <vector>

#include "tasks/generator.h"
#include "tasks/token_matrix.h"
#include "tasks/vocabulary.h"

namespace mad::tasks {

namespace {

class FuzzyRecallGenerator final : public SequenceGenerator {
 public:
  explicit FuzzyRecallGenerator(const TaskSettings& s)
      : vocab_(vocabulary(s)), seq_len_(s.seq_len), k_motif_(s.k_motif_size), v_motif_(s.v_motif_size) {}

  void sample(Rng& rng, Split split, std::span<int32_t> inputs, std::span<int32_t> targets) override {
    const bool train = split == Split::Train;
    pool_.clear();
    pairs_.clear();
    x_.clear();
    t_.clear();

    const int64_t probe_key_size = train ? rng.randint(1, k_motif_ + 1) : k_motif_;
    const int64_t probe_value_size = rng.randint(1, v_motif_ + 1);
    const Motif probe_key = draw_motif(rng, vocab_.keys, probe_key_size);
    pairs_.push_back({probe_key, draw_motif(rng, vocab_.values, probe_value_size), false});
    const int64_t probe_size = probe_key_size + probe_value_size;
    const int64_t probe_idx = rng.randint(0, seq_len_ - 2 * probe_size);
    bool probe_added = false;

    while (static_cast<int64_t>(x_.size()) < seq_len_ - probe_size - (k_motif_ + v_motif_)) {
      const int64_t key_size = train ? rng.randint(1, k_motif_ + 1) : k_motif_;
      const int64_t value_size = rng.randint(1, v_motif_ + 1);
      if (static_cast<int64_t>(x_.size()) >= probe_idx && !probe_added) {
        append(pairs_[0].key, false);
        append(pairs_[0].value, false);
        pairs_[0].shown = true;
        probe_added = true;
        continue;
      }
      const Motif key = draw_motif(rng, vocab_.keys, key_size);
      size_t index = find_pair(key);
      if (index == 0) probe_added = true;
      if (index == pairs_.size()) {
        pairs_.push_back({key, draw_motif(rng, vocab_.values, value_size), false});
      } else {
        pool_.resize(key.offset);  // an existing key: drop the copy just drawn
      }
      Pair& pair = pairs_[index];
      append(pair.key, false);
      append(pair.value, pair.shown);
      pair.shown = true;
    }
    append(pairs_[0].key, false);
    append(pairs_[0].value, true);

    // Left-pad to L+1, then shift by one.
    const size_t n_pad = static_cast<size_t>(seq_len_ + 1) - x_.size();
    const auto L = static_cast<size_t>(seq_len_);
    for (size_t p = 0; p < L; ++p) {
      const size_t from = p + 1;  // position in the padded sequence of the target
      inputs[p] = p < n_pad ? vocab_.pad : x_[p - n_pad];
      const int32_t next_token = from < n_pad ? vocab_.pad : x_[from - n_pad];
      const int32_t next_label = from < n_pad ? kIgnoreIndex : t_[from - n_pad];
      targets[p] = train ? next_token : next_label;
    }
  }

 private:
  // A motif is a run of tokens in pool_.
  struct Motif {
    size_t offset = 0;
    size_t size = 0;
  };
  struct Pair {
    Motif key;
    Motif value;
    bool shown;  // the key has appeared in the sequence
  };

  // A uniform ordered draw of `size` distinct tokens from `range` (size <= range.size(), validated).
  Motif draw_motif(Rng& rng, TokenRange range, int64_t size) {
    const Motif motif{pool_.size(), static_cast<size_t>(size)};
    while (pool_.size() < motif.offset + motif.size) {
      const auto token = static_cast<int32_t>(rng.randint(range.begin, range.end));
      const auto begin = pool_.begin() + static_cast<std::ptrdiff_t>(motif.offset);
      if (std::find(begin, pool_.end(), token) == pool_.end()) pool_.push_back(token);
    }
    return motif;
  }

  // Index of the pair whose key equals `key`, or pairs_.size().
  size_t find_pair(Motif key) const {
    const auto tokens = [&](Motif m) { return pool_.begin() + static_cast<std::ptrdiff_t>(m.offset); };
    for (size_t i = 0; i < pairs_.size(); ++i) {
      const Motif other = pairs_[i].key;
      if (other.size == key.size && std::equal(tokens(key), tokens(key) + key.size, tokens(other))) return i;
    }
    return pairs_.size();
  }

  void append(Motif motif, bool labelled) {
    for (size_t i = 0; i < motif.size; ++i) {
      const int32_t token = pool_[motif.offset + i];
      x_.push_back(token);
      t_.push_back(labelled ? token : kIgnoreIndex);
    }
  }

  Vocabulary vocab_;
  int64_t seq_len_, k_motif_, v_motif_;
  std::vector<int32_t> pool_;  // tokens of every motif of the current sequence
  std::vector<Pair> pairs_;    // pairs_[0] is the probe
  std::vector<int32_t> x_, t_;  // the unpadded sequence and its labels
};

}  // namespace

std::unique_ptr<SequenceGenerator> make_fuzzy_recall_generator(const TaskSettings& settings) {
  return std::make_unique<FuzzyRecallGenerator>(settings);
}

}  // namespace mad::tasks
