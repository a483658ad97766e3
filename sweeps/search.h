// How a sweep searches each setting's lr x weight-decay grid (the spec's `search:` key, docs/sweeps.md):
//
//   search: {method: grid}                                    # every run trains all its epochs (default)
//   search: {method: halving, rungs: [10, 30, 80], keep: 0.5} # successive halving (sweeps/halving.h)
//
// Under halving, all runs of a setting (one architecture, one task setting, one seed) train to the first
// rung; there the best `keep` fraction (rounded up, at least one) by test MAD accuracy goes on to the next
// rung and the others are pruned; after the last rung the survivors train to `epochs`. The search is not
// part of a run's key: a run trains the same epochs, with the same cosine schedule over all `epochs`,
// whichever search stops or continues it.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "config/value.h"

namespace mad::sweeps {

struct Search {
  enum class Method { grid, halving };
  Method method = Method::grid;
  std::vector<int64_t> rungs;  // halving: increasing epochs, each in [1, epochs)
  double keep = 0.5;           // halving: the fraction kept at each rung, in (0, 1)

  bool halving() const { return method == Method::halving; }
};

std::string_view method_name(Search::Method method);

// The rungs `search: {method: halving}` uses when it names none: epochs/20, 3 epochs/20 and 2 epochs/5,
// rounded ([10, 30, 80] for the protocol's 200 epochs), leaving out those below 1 and repeats. The
// halving estimate of `mad sweep plan` for a grid spec uses them too.
std::vector<int64_t> default_rungs(int64_t epochs);

// The `search:` value of a spec (nullptr: grid), checked against the spec's epochs and the size of each
// setting's lr x weight-decay grid. Errors name the key and its file:line.
Search search_from_config(const config::Value* value, int64_t epochs, size_t grid_runs);

// The search as the spec writes it ({method, rungs, keep}), for the stored spec and `mad sweep plan --json`.
config::Value to_config(const Search& search);

}  // namespace mad::sweeps
