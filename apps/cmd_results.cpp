// `mad results merge OUT IN...`: folds results databases (the shards of a sweep run on many machines)
// into OUT, one input at a time, without duplicating runs: merging the same input again adds nothing.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "apps/commands.h"
#include "results/results_db.h"

namespace mad::cli {
namespace {

struct MergeOptions {
  std::string out;
  std::vector<std::string> inputs;
};

void run_merge(const MergeOptions& o) {
  results::ResultsDb db = results::ResultsDb::open(o.out);
  for (const std::string& input : o.inputs) {
    const results::MergeStats s = db.merge_from(input);
    fmt::print("{}: {} run(s), {} new\n", s.input, s.runs, s.added);
  }
  fmt::print("{}: {} run(s)\n", o.out, db.runs().size());
}

}  // namespace

void setup_results(CLI::App& app) {
  CLI::App* results = app.add_subcommand("results", "Results databases: 'mad results merge OUT IN...' folds databases together");
  results->require_subcommand(1);
  auto o = std::make_shared<MergeOptions>();
  CLI::App* merge = results->add_subcommand(
      "merge",
      "Merge results databases into OUT (created if missing) without duplicating runs; an input's final run\n"
      "replaces a failed or running one. Example: mad results merge all.db shard-*.db");
  merge->add_option("out", o->out, "the database to merge into")->required();
  merge->add_option("inputs", o->inputs, "results databases to merge (read, never written)")->required();
  merge->callback([o] { run_merge(*o); });
}

}  // namespace mad::cli
