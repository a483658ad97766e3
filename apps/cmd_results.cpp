// `mad results merge OUT IN...`: folds results databases (the shards of a sweep run on many machines)
// into OUT, one input at a time, without duplicating runs: merging the same input again adds nothing.
// `mad results publish DB DEST`: an atomic, compact copy (a cluster task publishing its node-local shard).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "core/error.h"
#include "results/results_db.h"

namespace mad::cli {
namespace {

struct MergeOptions {
  std::string out;
  std::vector<std::string> inputs;
};

struct PublishOptions {
  std::string db, destination;
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
  CLI::App* results = app.add_subcommand("results", "Results databases: 'merge' folds databases together, 'publish' copies one atomically");
  results->require_subcommand(1);
  auto o = std::make_shared<MergeOptions>();
  CLI::App* merge = results->add_subcommand(
      "merge",
      "Merge results databases into OUT (created if missing) without duplicating runs; an input's final run\n"
      "replaces a failed or running one. Example: mad results merge all.db shard-*.db");
  merge->add_option("out", o->out, "the database to merge into")->required();
  merge->add_option("inputs", o->inputs, "results databases to merge (read, never written)")->required();
  merge->callback([o] { run_merge(*o); });

  auto p = std::make_shared<PublishOptions>();
  CLI::App* publish = results->add_subcommand(
      "publish",
      "Copy a results database to DEST atomically (VACUUM INTO a temporary file, then rename), e.g. from a\n"
      "node's local disk to a shared file system. Example: mad results publish /tmp/shard.db shards/shard-3.db");
  publish->add_option("db", p->db, "the database to copy")->required();
  publish->add_option("destination", p->destination, "where the copy goes (replaced if it exists)")->required();
  publish->callback([p] {
    MAD_CHECK(std::filesystem::exists(p->db), "{}: no such results database", p->db);
    // VACUUM INTO needs a connection that may write (query_only forbids it), though it only reads p->db.
    results::ResultsDb::open(p->db).publish(p->destination);
    fmt::print("published {} to {}\n", p->db, p->destination);
  });
}

}  // namespace mad::cli
