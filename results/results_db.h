// The results store: one SQLite file that sweeps write runs into and anyone can query with plain SQL
// (docs/results-schema.md describes the tables).
//
// A ResultsDb is one connection: use one per thread. Many threads and processes on one machine may open
// the same file at once: the database runs in WAL mode (readers never block the writer) and every write
// waits up to the busy timeout (5 s by default) for the write lock instead of failing. A database must
// not be shared by writers on a network file system; there each worker writes its own file and
// merge_into folds them together (docs/platform.md).
//
// Writes are atomic: a run is recorded complete, with its metrics and epochs, or not at all, and a run
// key is recorded once: recording it again (a resumed sweep, a second worker, a re-merged shard) writes
// nothing. Every error is one line naming the file and the fix.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "config/value.h"
#include "results/record.h"

namespace mad::results {

class Connection;

struct RunFilter {
  std::string sweep = {};                // runs that belong to this sweep; empty: all
  std::optional<RunStatus> status = {};  // empty: all
  std::string task = {};                 // task name; empty: all
  std::string key_prefix = {};           // keys starting with this; empty: all
};

struct MergeStats {
  std::string input;
  int64_t runs = 0;   // runs in the input
  int64_t added = 0;  // runs new to the output (the others were already there)
};

class ResultsDb {
 public:
  enum class Access {
    read_write,  // creates the file when missing and brings its schema up to date
    read_only,   // the file must exist and have the current schema; queries only (PRAGMA query_only)
  };
  static constexpr int kDefaultBusyTimeoutMs = 5000;

  // Opens `path`: WAL mode, foreign keys on, the busy timeout set, the schema migrated. Throws a
  // one-line mad::Error naming the file and the fix when it is not a results database, comes from a
  // newer schema, is read-only (for read_write), locked for longer than the timeout, or missing
  // (for read_only).
  static ResultsDb open(const std::string& path, Access access = Access::read_write,
                        int busy_timeout_ms = kDefaultBusyTimeoutMs);
  ResultsDb(ResultsDb&&) noexcept;
  ResultsDb& operator=(ResultsDb&&) noexcept;
  ~ResultsDb();

  const std::string& path() const;

  // ---- writing -------------------------------------------------------------------------------------

  // Records `run` under run_key(run) in one transaction (sweep, architecture, task setting, run, final
  // metrics, epochs). Returns false, writing nothing but the run's membership of run.sweep, when the key
  // already has a final record (completed or diverged); a failed or running record of the key is
  // replaced. Throws mad::Error for an inconsistent record (e.g. completed without final metrics) and
  // for database errors, leaving the database as it was.
  bool record_run(const RunRecord& run);
  // A sweep runner's claim on a run before it trains it, so that concurrent runners on one database do
  // not train the same run twice. In one transaction: when `run`'s key has a final record, the run only
  // joins run.sweep and the result is `done`; when it has a running record whose holder (host, pid) is
  // alive, nothing changes and the result is `taken`; otherwise `run` (status running, provenance with
  // this process's host and pid) is recorded, replacing a failed or abandoned record: `claimed`. The
  // claimer later records the run's outcome with record_run, which replaces the claim.
  enum class Claim { claimed, done, taken };
  using HolderAlive = std::function<bool(const std::string& host, int64_t pid)>;
  Claim claim_run(const RunRecord& run, const HolderAlive& holder_alive);
  // Stores a sweep's spec (canonical JSON), replacing the one recorded before under `name`.
  void record_sweep(const std::string& name, const config::Value& spec);
  // Makes the recorded run `key` a member of `sweep` as well (a sweep reusing another sweep's run).
  void add_to_sweep(const std::string& sweep, const std::string& key);

  // ---- reading -------------------------------------------------------------------------------------

  // True when `key` has a final record: completed, or diverged (deterministic, so not worth re-running).
  bool has_completed(const std::string& key);
  // The keys with a final record; of one sweep's runs, or of every run when `sweep` is empty.
  std::unordered_set<std::string> completed_keys(const std::string& sweep = "");
  // Matching runs in the order they started, without their epochs.
  std::vector<StoredRun> runs(const RunFilter& filter = {});
  // A run's epochs in order (empty for an unknown key). NULL metrics (NaN losses) read back as NaN.
  std::vector<EpochMetrics> epochs(const std::string& key);
  // The names of the recorded sweeps, sorted.
  std::vector<std::string> sweeps();
  // Writes a compact, self-contained copy of this database to `destination` atomically: VACUUM INTO a
  // temporary file next to it, then rename, so that a reader (a merge job on another node) sees the old
  // file or the whole new one, never a half-written one. Replaces `destination` if it exists.
  void publish(const std::string& destination);
  // SQLite's PRAGMA integrity_check: "ok" for a healthy file.
  std::string integrity_check();

  // Copies every run of the results database `input` that is new here (by run key), with its epochs,
  // metrics, architecture, task setting and sweeps, in one transaction; a final run in `input` also
  // replaces a failed or running one here. `input` is only read, and must have this schema version.
  // Merging the same input again adds nothing. (Defined in merge.cpp.)
  MergeStats merge_from(const std::string& input);

 private:
  explicit ResultsDb(std::unique_ptr<Connection> connection);
  std::unique_ptr<Connection> db_;
};

// Opens (creating) `out` and merges the `inputs` into it one at a time, each in its own transaction
// (SQLite attaches at most 10 databases at once, and an interrupted merge keeps the inputs done so far).
std::vector<MergeStats> merge_into(const std::string& out, const std::vector<std::string>& inputs);

}  // namespace mad::results
