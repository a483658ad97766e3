// Successive halving over one setting's lr x weight-decay grid, as a pure function of what the results
// database holds: every backend (a local runner, one resumed after SIGKILL, shards, Slurm tasks) reads
// the same epochs and so computes the same survivors.
//
// A bracket is the runs of one architecture on one task setting (seed included). At rung r the
// candidates are the runs that survived the rungs before (all runs at the first). A candidate's rung
// metrics are its reported metrics as if it had stopped at r: those of its epoch with the lowest test
// perplexity among epochs 1..r (a run that ended before r, by early stopping or divergence, uses all
// its epochs; a diverged run without epochs ranks last). The decision at r is taken once every
// candidate has reached r or ended: candidates are ranked by test MAD accuracy (higher first), then test
// perplexity (lower first), then run key, and the first ceil(keep x candidates) (at least one) go on;
// the others are pruned unless they ended already. After the last rung the survivors train to the end.
// With no rungs (a grid search) every run simply trains to the end.
//
// Nothing else is read: not the status a runner wrote (paused, pruned, running), nor the order in which
// runs reached the rung.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "results/record.h"
#include "results/results_db.h"
#include "sweeps/search.h"

namespace mad::sweeps {

// One run of a bracket as the results database has it.
struct BracketRun {
  std::string key;
  bool ended = false;                       // completed or diverged: training stopped by itself
  std::vector<results::EpochMetrics> epochs;  // every epoch recorded, in order
};

// What the search wants done with one run now.
struct HalvingStep {
  enum class Action {
    train,  // train to `target` (the next rung, or the last epoch)
    wait,   // at rung `rung`; its siblings have not all reached it yet
    prune,  // dropped at rung `rung`, ranked `rank` of `of`
    done,   // ended, nothing more to do
  };
  Action action = Action::done;
  int64_t target = 0;
  int64_t rung = 0;
  size_t rank = 0, of = 0;  // prune: 1-based rank among the rung's candidates
};

// A run as the search sees it, from its database record (nullopt: not recorded yet).
BracketRun bracket_run(const std::string& key, const std::optional<results::RunState>& state);

// Whether the search is over for a run: it ended, or its step is to prune it and it is recorded pruned.
bool search_finished(const HalvingStep& step, const std::optional<results::RunState>& state);

// The index of the epoch a run reports if it stops after `up_to` (the first of the epochs 1..up_to with
// the lowest test perplexity, as the trainer chooses); -1 when it has no such epoch.
int64_t reported_epoch_index(std::span<const results::EpochMetrics> epochs, int64_t up_to);

// The runs kept at a rung of `candidates` runs.
size_t kept_at_rung(size_t candidates, double keep);

// One step per run of `bracket`, in its order. `epochs`: the runs' epochs (the end of their schedule).
std::vector<HalvingStep> halving_steps(std::span<const BracketRun> bracket, const Search& search, int64_t epochs);

// Epochs the bracket still trains at most (no early stopping), given where its runs stand; for a bracket
// of `n` fresh runs that is n x r1 + k1 x (r2 - r1) + ... + k_last x (epochs - r_last).
int64_t remaining_epochs(std::span<const BracketRun> bracket, const Search& search, int64_t epochs);
// The same for `runs` fresh runs.
int64_t planned_epochs(size_t runs, const Search& search, int64_t epochs);
// Runs of a fresh bracket of `runs` that train to the end (all of them for a grid search).
size_t finishing_runs(size_t runs, const Search& search);

}  // namespace mad::sweeps
