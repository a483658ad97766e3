#include "sweeps/halving.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace mad::sweeps {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A candidate's standing at a rung: accuracy (NaN ranks as -inf), perplexity (NaN as +inf), key.
struct Standing {
  double acc = -kInf, ppl = kInf;
  size_t index = 0;  // into the bracket
};

Standing standing_at(const BracketRun& run, int64_t rung, size_t index) {
  Standing s;
  s.index = index;
  const int64_t e = reported_epoch_index(run.epochs, rung);
  if (e < 0) return s;
  const results::Metrics& m = run.epochs[static_cast<size_t>(e)].test;
  if (!std::isnan(m.acc)) s.acc = m.acc;
  if (!std::isnan(m.ppl)) s.ppl = m.ppl;
  return s;
}

int64_t epochs_done(const BracketRun& run) { return run.epochs.empty() ? 0 : run.epochs.back().epoch; }

// Where a bracket stands: the candidates of the first rung not yet decided (or the survivors of all
// rungs), that rung's index, and the pruned runs with the rung that dropped them.
struct Walk {
  std::vector<size_t> candidates;  // indices into the bracket, by key
  size_t rung = 0;                 // index into search.rungs; == rungs.size(): all decided
  std::vector<HalvingStep> steps;  // filled for pruned and ended runs
};

Walk walk(std::span<const BracketRun> bracket, const Search& search) {
  Walk w;
  w.steps.resize(bracket.size());
  w.candidates.resize(bracket.size());
  std::iota(w.candidates.begin(), w.candidates.end(), size_t{0});
  std::sort(w.candidates.begin(), w.candidates.end(),
            [&](size_t a, size_t b) { return bracket[a].key < bracket[b].key; });
  for (; w.rung < search.rungs.size(); ++w.rung) {
    const int64_t rung = search.rungs[w.rung];
    const bool reached = std::all_of(w.candidates.begin(), w.candidates.end(), [&](size_t i) {
      return bracket[i].ended || epochs_done(bracket[i]) >= rung;
    });
    if (!reached) return w;
    std::vector<Standing> order;
    for (size_t i : w.candidates) order.push_back(standing_at(bracket[i], rung, i));
    // Candidates are sorted by key, so a stable sort breaks full ties by key.
    std::stable_sort(order.begin(), order.end(), [](const Standing& a, const Standing& b) {
      return a.acc != b.acc ? a.acc > b.acc : a.ppl < b.ppl;
    });
    const size_t kept = kept_at_rung(order.size(), search.keep);
    w.candidates.clear();
    for (size_t r = 0; r < order.size(); ++r) {
      const size_t i = order[r].index;
      if (r < kept) {
        w.candidates.push_back(i);
      } else if (!bracket[i].ended) {
        w.steps[i] = {HalvingStep::Action::prune, 0, rung, r + 1, order.size()};
      }
    }
    std::sort(w.candidates.begin(), w.candidates.end(),
              [&](size_t a, size_t b) { return bracket[a].key < bracket[b].key; });
  }
  return w;
}

}  // namespace

BracketRun bracket_run(const std::string& key, const std::optional<results::RunState>& state) {
  BracketRun r;
  r.key = key;
  if (state) {
    r.ended = results::is_final(state->status);
    r.epochs = state->epochs;
  }
  return r;
}

bool search_finished(const HalvingStep& step, const std::optional<results::RunState>& state) {
  return step.action == HalvingStep::Action::done ||
         (step.action == HalvingStep::Action::prune && state && state->status == results::RunStatus::pruned);
}

int64_t reported_epoch_index(std::span<const results::EpochMetrics> epochs, int64_t up_to) {
  int64_t best = -1;
  for (size_t i = 0; i < epochs.size() && epochs[i].epoch <= up_to; ++i) {
    if (best < 0 || epochs[i].test.ppl < epochs[static_cast<size_t>(best)].test.ppl) best = static_cast<int64_t>(i);
  }
  return best;
}

size_t kept_at_rung(size_t candidates, double keep) {
  // The tolerance keeps 0.28 x 25 = 7.000000000000001 at 7.
  const auto kept = static_cast<size_t>(std::ceil(keep * static_cast<double>(candidates) - 1e-9));
  return std::clamp<size_t>(kept, 1, std::max<size_t>(candidates, 1));
}

std::vector<HalvingStep> halving_steps(std::span<const BracketRun> bracket, const Search& search, int64_t epochs) {
  Walk w = walk(bracket, search);
  const bool all_decided = w.rung == search.rungs.size();
  const int64_t target = all_decided ? epochs : search.rungs[w.rung];
  for (size_t i : w.candidates) {
    if (bracket[i].ended) continue;  // done
    // A run that is not over but holds all its epochs (a failure after its last epoch) trains again.
    if (epochs_done(bracket[i]) < target || all_decided) w.steps[i] = {HalvingStep::Action::train, target, 0, 0, 0};
    else w.steps[i] = {HalvingStep::Action::wait, 0, target, 0, 0};
  }
  return w.steps;
}

int64_t remaining_epochs(std::span<const BracketRun> bracket, const Search& search, int64_t epochs) {
  const Walk w = walk(bracket, search);
  const bool all_decided = w.rung == search.rungs.size();
  const int64_t target = all_decided ? epochs : search.rungs[w.rung];
  int64_t left = 0;
  for (size_t i : w.candidates) {
    if (!bracket[i].ended) left += std::max<int64_t>(0, target - epochs_done(bracket[i]));
  }
  // Later rungs: as many survivors as the schedule keeps, each training the whole gap.
  size_t survivors = w.candidates.size();
  for (size_t r = w.rung; r < search.rungs.size(); ++r) {
    survivors = kept_at_rung(survivors, search.keep);
    const int64_t next = r + 1 < search.rungs.size() ? search.rungs[r + 1] : epochs;
    left += static_cast<int64_t>(survivors) * (next - search.rungs[r]);
  }
  return left;
}

int64_t planned_epochs(size_t runs, const Search& search, int64_t epochs) {
  const std::vector<BracketRun> fresh(runs);
  return remaining_epochs(fresh, search, epochs);
}

size_t finishing_runs(size_t runs, const Search& search) {
  for (size_t r = 0; r < search.rungs.size(); ++r) runs = kept_at_rung(runs, search.keep);
  return runs;
}

}  // namespace mad::sweeps
