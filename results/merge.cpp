// Merging results databases: the shards of a sweep that ran on many machines, each writing its own file
// (docs/platform.md), folded into one by ATTACH and inserts keyed on run keys, so that merging a shard
// twice, or two shards holding the same run, never duplicates a run.
#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>

#include "core/error.h"
#include "results/results_db.h"
#include "results/schema.h"
#include "results/sqlite.h"

namespace mad::results {

namespace {

namespace fs = std::filesystem;

// The input attached as "src" for the lifetime of the object (ATTACH and DETACH run outside
// transactions, as SQLite requires). The merge only reads it. It is attached read-write when the file
// allows (SQLite falls back to read-only otherwise) so that DETACH removes its WAL files; a read-only
// attachment would leave empty FILE-wal and FILE-shm next to every shard.
class AttachedInput {
 public:
  AttachedInput(Connection& db, const std::string& input) : db_(db) {
    Statement attach(db_, "ATTACH DATABASE ?1 AS src", fmt::format("attaching {}", input));
    attach.bind_all(input).run();
  }
  // A destructor must not throw; DETACH only fails if a statement is still running, which cannot be here.
  ~AttachedInput() { sqlite3_exec(db_.handle(), "DETACH DATABASE src", nullptr, nullptr, nullptr); }
  AttachedInput(const AttachedInput&) = delete;
  AttachedInput& operator=(const AttachedInput&) = delete;

 private:
  Connection& db_;
};

// The merge of one attached input, in order: what runs reference first, then the runs that are new here,
// then their metrics and epochs, then sweep memberships. Both databases have the same schema version, so
// their tables have the same columns in the same order and `SELECT *` copies rows as they are.
constexpr std::string_view kMergeSql = R"sql(
INSERT OR IGNORE INTO main.sweeps SELECT * FROM src.sweeps;
INSERT OR IGNORE INTO main.architectures SELECT * FROM src.architectures;
INSERT OR IGNORE INTO main.task_settings SELECT * FROM src.task_settings;
-- A run here that is not final gives way (with its epochs: ON DELETE CASCADE) to the input's record of the
-- key when that one is further on: final, or with more epochs (a halving run that went on from a rung
-- elsewhere), or pruned with as many (a rung's decision made elsewhere).
CREATE TEMP TABLE merge_progress AS
  SELECT r.key, r.status, (SELECT count(*) FROM src.run_epochs e WHERE e.run_key = r.key) AS epochs FROM src.runs r;
DELETE FROM main.runs WHERE status NOT IN ('completed', 'diverged') AND key IN (
  SELECT p.key FROM temp.merge_progress p
  WHERE p.status IN ('completed', 'diverged')
     OR p.epochs > (SELECT count(*) FROM main.run_epochs e WHERE e.run_key = p.key)
     OR (p.status = 'pruned' AND main.runs.status != 'pruned'
         AND p.epochs = (SELECT count(*) FROM main.run_epochs e WHERE e.run_key = p.key)));
DROP TABLE temp.merge_progress;
-- The runs taken from the input: those whose key is not here (INSERT OR IGNORE on the key, made explicit
-- so that only the taken runs bring their epochs and metrics).
CREATE TEMP TABLE merge_keys AS SELECT key FROM src.runs WHERE key NOT IN (SELECT key FROM main.runs);
INSERT INTO main.runs SELECT * FROM src.runs WHERE key IN (SELECT key FROM temp.merge_keys);
INSERT INTO main.run_metrics SELECT * FROM src.run_metrics WHERE run_key IN (SELECT key FROM temp.merge_keys);
INSERT INTO main.run_epochs SELECT * FROM src.run_epochs WHERE run_key IN (SELECT key FROM temp.merge_keys);
INSERT OR IGNORE INTO main.sweep_runs SELECT * FROM src.sweep_runs;
)sql";

}  // namespace

MergeStats ResultsDb::merge_from(const std::string& input) {
  Connection& db = *db_;
  MAD_CHECK(fs::exists(input), "{}: no such results database to merge", input);
  MAD_CHECK(!fs::equivalent(input, path()), "{}: cannot merge a database into itself", input);
  AttachedInput attached(db, input);

  const int version = stored_schema_version(db, "src", input);
  check_not_newer(version, input);
  MAD_CHECK(version == current_schema_version(),
            "{}: {}; open it once for writing with this mad (which upgrades it to schema version {}) and merge again",
            input,
            version == 0 ? "an empty database, not a results database" : fmt::format("results schema version {}", version),
            current_schema_version());

  MergeStats stats{input, db.query_int("SELECT count(*) FROM src.runs"), 0};
  Transaction transaction(db);
  db.exec(kMergeSql, fmt::format("merging {}", input));
  stats.added = db.query_int("SELECT count(*) FROM temp.merge_keys");
  db.exec("DROP TABLE temp.merge_keys");
  transaction.commit();
  return stats;
}

std::vector<MergeStats> merge_into(const std::string& out, const std::vector<std::string>& inputs) {
  ResultsDb db = ResultsDb::open(out);
  std::vector<MergeStats> stats;
  for (const std::string& input : inputs) stats.push_back(db.merge_from(input));
  return stats;
}

}  // namespace mad::results
