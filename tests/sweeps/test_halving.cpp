// Successive halving: the decision of a rung against hand-worked brackets (ranking, ties, runs that ended
// early or diverged, histories longer than the rung), its independence from the order runs are given in,
// the planned cost, whole-bracket shards, and one-line errors for bad `search:` specs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "config/yaml.h"
#include "sweeps/halving.h"
#include "sweeps/sweep_plan.h"
#include "tests/support/test_util.h"

namespace mad::sweeps {
namespace {

using Action = HalvingStep::Action;
using testing::error_of;

// A run with one epoch per (acc, ppl) pair.
BracketRun run(const std::string& key, std::vector<std::pair<double, double>> acc_ppl, bool ended = false) {
  BracketRun r;
  r.key = key;
  r.ended = ended;
  int64_t epoch = 0;
  for (const auto& [acc, ppl] : acc_ppl) {
    results::EpochMetrics e;
    e.epoch = ++epoch;
    e.test.acc = acc;
    e.test.ppl = ppl;
    r.epochs.push_back(e);
  }
  return r;
}

const Search kHalving{Search::Method::halving, {2, 4}, 0.5};
constexpr int64_t kEpochs = 6;

std::map<std::string, HalvingStep> steps_by_key(const std::vector<BracketRun>& bracket, const Search& search = kHalving) {
  const std::vector<HalvingStep> steps = halving_steps(bracket, search, kEpochs);
  std::map<std::string, HalvingStep> out;
  for (size_t i = 0; i < bracket.size(); ++i) out[bracket[i].key] = steps[i];
  return out;
}

TEST(Halving, RunsTrainToTheFirstRungAndWaitThereForTheirSiblings) {
  const auto steps = steps_by_key({run("a", {{0.5, 3}, {0.6, 2}}), run("b", {{0.4, 3}}), run("c", {})});
  EXPECT_EQ(steps.at("a").action, Action::wait);
  EXPECT_EQ(steps.at("a").rung, 2);
  EXPECT_EQ(steps.at("b").action, Action::train);
  EXPECT_EQ(steps.at("b").target, 2);
  EXPECT_EQ(steps.at("c").action, Action::train);
  EXPECT_EQ(steps.at("c").target, 2);
}

// Six runs at rung 2 (hand-ranked by accuracy, then perplexity, then key):
//   f 0.9 | b 0.8 ppl 1.5 | a 0.8 ppl 2.0 | e 0.8 ppl 2.0 (ties a on both: key) | d 0.3 | c diverged
// ceil(0.5 x 6) = 3 go on: f, b, a; e, d are pruned as ranks 4 and 5; c ended (diverged) and stays done.
std::vector<BracketRun> six_at_rung_2() {
  return {run("a", {{0.1, 9}, {0.8, 2.0}}), run("b", {{0.2, 9}, {0.8, 1.5}}),   run("c", {}, true),
          run("d", {{0.2, 5}, {0.3, 4}}),   run("e", {{0.3, 9}, {0.8, 2.0}}),   run("f", {{0.9, 1}, {0.5, 3}})};
}

TEST(Halving, TheRungKeepsTheBestFractionByAccuracyThenPerplexityThenKey) {
  const auto steps = steps_by_key(six_at_rung_2());
  for (const char* kept : {"f", "b", "a"}) {
    EXPECT_EQ(steps.at(kept).action, Action::train) << kept;
    EXPECT_EQ(steps.at(kept).target, 4) << kept;
  }
  EXPECT_EQ(steps.at("e").action, Action::prune);
  EXPECT_EQ(steps.at("e").rung, 2);
  EXPECT_EQ(steps.at("e").rank, 4u);
  EXPECT_EQ(steps.at("e").of, 6u);
  EXPECT_EQ(steps.at("d").action, Action::prune);
  EXPECT_EQ(steps.at("d").rank, 5u);
  EXPECT_EQ(steps.at("c").action, Action::done);
}

TEST(Halving, ARunIsJudgedByItsLowestPerplexityEpochUpToTheRung) {
  // f's best epoch so far is epoch 1 (ppl 1): accuracy 0.9, although its last epoch has 0.5. Epochs after
  // the rung (a history longer than the rung, e.g. from a grid sweep) do not count.
  std::vector<BracketRun> bracket = six_at_rung_2();
  bracket[3].epochs.push_back(bracket[3].epochs.back());  // d: a third epoch with ppl 0.1, acc 1.0
  bracket[3].epochs.back().epoch = 3;
  bracket[3].epochs.back().test = {0.1, 0.1, 1.0, 1.0};
  const auto steps = steps_by_key(bracket);
  EXPECT_EQ(steps.at("f").action, Action::train);
  EXPECT_EQ(steps.at("d").action, Action::prune);
}

TEST(Halving, TheOrderOfTheRunsChangesNothing) {
  std::vector<BracketRun> bracket = six_at_rung_2();
  const auto reference = steps_by_key(bracket);
  std::sort(bracket.begin(), bracket.end(), [](const BracketRun& a, const BracketRun& b) { return a.key > b.key; });
  do {
    const auto steps = steps_by_key(bracket);
    for (const auto& [key, step] : reference) {
      EXPECT_EQ(steps.at(key).action, step.action) << key;
      EXPECT_EQ(steps.at(key).rank, step.rank) << key;
    }
  } while (std::next_permutation(bracket.begin(), bracket.begin() + 4,
                                 [](const BracketRun& a, const BracketRun& b) { return a.key < b.key; }));
}

TEST(Halving, LaterRungsAndTheEnd) {
  std::vector<BracketRun> bracket = six_at_rung_2();
  // The survivors f, b, a reach rung 4: 2 of 3 go on (b, then f by accuracy; a is pruned).
  const auto extend = [](BracketRun& r, double acc, double ppl) {
    for (int64_t e = 3; e <= 4; ++e) {
      results::EpochMetrics m;
      m.epoch = e;
      m.test.acc = acc;
      m.test.ppl = ppl;
      r.epochs.push_back(m);
    }
  };
  extend(bracket[0], 0.85, 0.9);  // a
  extend(bracket[1], 0.95, 0.5);  // b
  extend(bracket[5], 0.92, 0.8);  // f
  auto steps = steps_by_key(bracket);
  EXPECT_EQ(steps.at("b").action, Action::train);
  EXPECT_EQ(steps.at("b").target, kEpochs);
  EXPECT_EQ(steps.at("f").action, Action::train);
  EXPECT_EQ(steps.at("a").action, Action::prune);
  EXPECT_EQ(steps.at("a").rung, 4);
  EXPECT_EQ(steps.at("a").rank, 3u);
  EXPECT_EQ(steps.at("e").action, Action::prune);  // still pruned at rung 2
  EXPECT_EQ(steps.at("e").rung, 2);
  // b ends (completed): it is done; f still trains to the end.
  bracket[1].ended = true;
  steps = steps_by_key(bracket);
  EXPECT_EQ(steps.at("b").action, Action::done);
  EXPECT_EQ(steps.at("f").action, Action::train);
}

TEST(Halving, ARunThatEndedEarlyIsACandidateAndNeverPruned) {
  // a solved the task at epoch 1 (early stop): it ranks first at rung 2 and is done; the kept slot it
  // takes is one fewer for the others (ceil(0.5 x 4) = 2: a and b).
  const auto steps = steps_by_key({run("a", {{1.0, 1.0}}, true), run("b", {{0.7, 2}, {0.8, 2}}),
                                   run("c", {{0.5, 2}, {0.6, 2}}), run("d", {{0.5, 3}, {0.5, 3}})});
  EXPECT_EQ(steps.at("a").action, Action::done);
  EXPECT_EQ(steps.at("b").action, Action::train);
  EXPECT_EQ(steps.at("c").action, Action::prune);
  EXPECT_EQ(steps.at("d").action, Action::prune);
}

TEST(Halving, AGridSearchTrainsEveryRunToTheEnd) {
  const Search grid;
  const auto steps = steps_by_key({run("a", {{0.5, 3}}), run("b", {}), run("c", {{0.1, 1}}, true)}, grid);
  EXPECT_EQ(steps.at("a").action, Action::train);
  EXPECT_EQ(steps.at("a").target, kEpochs);
  EXPECT_EQ(steps.at("b").target, kEpochs);
  EXPECT_EQ(steps.at("c").action, Action::done);
}

TEST(Halving, PlannedCostAndKeptCounts) {
  const Search protocol{Search::Method::halving, {10, 30, 80}, 0.5};
  // 6 x 10 + 3 x 20 + 2 x 50 + 1 x 120 = 340 epochs of the grid's 6 x 200 = 1200.
  EXPECT_EQ(planned_epochs(6, protocol, 200), 340);
  EXPECT_EQ(planned_epochs(6, Search{}, 200), 1200);
  EXPECT_EQ(finishing_runs(6, protocol), 1u);
  EXPECT_EQ(finishing_runs(6, Search{}), 6u);
  EXPECT_EQ(kept_at_rung(25, 0.28), 7u);  // not 8 from 0.28 x 25 = 7.000000000000001
  EXPECT_EQ(kept_at_rung(1, 0.5), 1u);
  EXPECT_EQ(kept_at_rung(3, 0.1), 1u);
  // Where a bracket stands: three runs waiting at rung 2 of six (one still to train 1 epoch, one diverged).
  std::vector<BracketRun> bracket = six_at_rung_2();
  EXPECT_EQ(remaining_epochs(bracket, kHalving, kEpochs), 3 * 2 + 2 * 2);  // f, b, a to 4; two of them to 6
  bracket[0].epochs.pop_back();  // a at epoch 1: rung 2 is undecided again
  EXPECT_EQ(remaining_epochs(bracket, kHalving, kEpochs), 1 + 3 * 2 + 2 * 2);
  EXPECT_EQ(default_rungs(200), (std::vector<int64_t>{10, 30, 80}));
  EXPECT_EQ(default_rungs(8), (std::vector<int64_t>{1, 3}));
}

SweepSpec parse(const std::string& yaml) { return sweep_from_config(config::load_string(yaml, "spec.yml"), "."); }

const std::string kBase = "name: s\narchitectures: {a: [swiglu], b: [mlp]}\ntasks: [CR, memorization]\nprotocol: baselines\n"
                          "epochs: 100\n";

TEST(HalvingSpec, ParsesWithDefaultsAndWritesBack) {
  const SweepSpec spec = parse(kBase + "search: {method: halving, rungs: [5, 20], keep: 0.25}\n");
  EXPECT_TRUE(spec.search.halving());
  EXPECT_EQ(spec.search.rungs, (std::vector<int64_t>{5, 20}));
  EXPECT_EQ(spec.search.keep, 0.25);
  EXPECT_FALSE(parse(kBase).search.halving());
  EXPECT_FALSE(parse(kBase + "search: {method: grid}\n").search.halving());
  const SweepSpec defaults = parse(kBase + "search: {method: halving}\n");
  EXPECT_EQ(defaults.search.rungs, (std::vector<int64_t>{5, 15, 40}));
  EXPECT_EQ(defaults.search.keep, 0.5);
  // The search does not change any run's key.
  const std::vector<PlannedRun> grid = plan_sweep(parse(kBase)), halving = plan_sweep(spec);
  ASSERT_EQ(grid.size(), halving.size());
  for (size_t i = 0; i < grid.size(); ++i) EXPECT_EQ(grid[i].key, halving[i].key);
}

TEST(HalvingSpec, BadSearchesAreOneLineErrorsNamingTheKeyAndLine) {
  const std::pair<std::string, std::string> cases[] = {
      {"search: {method: halving, rungs: [10, 10]}\n", "spec.yml:6: search.rungs[1]: rungs must increase"},
      {"search: {method: halving, rungs: [30, 10]}\n", "search.rungs[1]: rungs must increase, but 10 follows 30"},
      {"search: {method: halving, rungs: [10, 100]}\n", "search.rungs[1]: rung 100 is not below epochs (100)"},
      {"search: {method: halving, rungs: [0]}\n", "search.rungs[0]: a rung"},
      {"search: {method: halving, rungs: []}\n", "search.rungs: rungs is a non-empty list"},
      {"search: {method: halving, keep: 1.0}\n", "spec.yml:6: search.keep: keep is the fraction"},
      {"search: {method: halving, keep: 0}\n", "must be in (0, 1)"},
      {"search: {method: annealing}\n", "search.method: unknown search method 'annealing'; use grid or halving"},
      {"search: {method: grid, rungs: [10]}\n", "rungs and keep belong to method: halving"},
      {"search: {method: halving, rung: [10]}\n", "rung"},
      {"search: halving\n", "'search' is a map with a method"},
      {"lr: [1.0e-3]\nweight_decay: [0.0]\nsearch: {method: halving}\n",
       "spec.yml:8: search.method: halving chooses among each setting's runs, but lr x weight_decay gives 1 run"},
  };
  for (const auto& [yaml, fragment] : cases) {
    const std::string message = error_of([&] { parse(kBase + yaml); });
    EXPECT_NE(message.find(fragment), std::string::npos) << yaml << " -> " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  EXPECT_NE(error_of([&] { parse("name: s\narchitectures: {a: [swiglu]}\nepochs: 1\nsearch: {method: halving}\n"); })
                .find("1 epoch(s) leave no room for a rung"),
            std::string::npos);
}

TEST(HalvingShards, WholeBracketsGoToOneShardAndTheShardsPartitionThePlan) {
  const std::vector<PlannedRun> plan = plan_sweep(parse(kBase + "search: {method: halving}\n"));
  ASSERT_EQ(plan.size(), 2u * 2 * 6);  // 2 settings x 2 architectures x 6 (lr, wd): 4 brackets
  std::map<std::string, int> shard_of_key;
  std::map<size_t, std::set<int>> shards_of_bracket;
  for (int i = 1; i <= 3; ++i) {
    for (const PlannedRun& run : shard_of(plan, Shard{i, 3}, true)) {
      EXPECT_TRUE(shard_of_key.emplace(run.key, i).second) << "a run in two shards";
      shards_of_bracket[run.bracket].insert(i);
    }
  }
  EXPECT_EQ(shard_of_key.size(), plan.size());
  EXPECT_EQ(shards_of_bracket.size(), 4u);
  for (const auto& [bracket, shards] : shards_of_bracket) EXPECT_EQ(shards.size(), 1u) << "bracket " << bracket;
  // A bracket's runs: one architecture, one setting, every (lr, wd).
  std::map<size_t, std::set<std::pair<double, double>>> grid;
  for (const PlannedRun& run : plan) grid[run.bracket].insert({run.training.lr, run.training.weight_decay});
  for (const auto& [bracket, points] : grid) EXPECT_EQ(points.size(), 6u);
}

}  // namespace
}  // namespace mad::sweeps
