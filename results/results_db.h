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
#include "results/lock_wait.h"
#include "results/record.h"

namespace mad::results {

class Connection;

struct RunFilter {
  std::string sweep = {};                // runs that belong to this sweep; empty: all
  std::optional<RunStatus> status = {};  // empty: all
  std::string task = {};                 // task name; empty: all
  std::string key_prefix = {};           // keys starting with this; empty: all
};

// Where one run stands, for a sweep runner deciding what to do with it (sweeps/halving.h).
struct RunState {
  RunStatus status = RunStatus::running;
  std::string host;
  int64_t pid = 0;
  std::string started_at;
  std::optional<double> cpu_seconds;
  std::vector<EpochMetrics> epochs;  // empty unless asked for
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
    read_only,   // the file must exist and have the current schema; queries only, never a write
  };

  // Opens `path`: WAL mode, foreign keys on, the schema migrated; every statement waits for the write
  // lock as `lock_wait` says. Throws a one-line mad::Error naming the file, the cause and the fix when it
  // is not a results database, comes from a newer schema, cannot be written (for read_write), is locked
  // for longer than the timeout, or is missing (for read_only).
  static ResultsDb open(const std::string& path, Access access = Access::read_write, LockWait lock_wait = {});
  ResultsDb(ResultsDb&&) noexcept;
  ResultsDb& operator=(ResultsDb&&) noexcept;
  ~ResultsDb();

  const std::string& path() const;

  // ---- writing -------------------------------------------------------------------------------------

  // Records `run` under run_key(run) in one transaction (sweep, architecture, task setting, run, final
  // metrics, epochs). Returns false, writing nothing but the run's membership of run.sweep, when the key
  // already has a final record (completed or diverged); a record that is not final (failed, running,
  // paused, pruned) is replaced, epochs and all. Throws mad::Error for an inconsistent record (e.g.
  // completed without final metrics) and for database errors, leaving the database as it was.
  bool record_run(const RunRecord& run);
  // A sweep runner's claim on a run before it trains it, so that concurrent runners on one database do
  // not train the same run twice. In one transaction: when `run`'s key has a final record, the run only
  // joins run.sweep and the result is `done`; when it has a running record whose holder (host, pid) is
  // alive, nothing changes and the result is `taken`; otherwise the run is claimed: `run` (status
  // running, provenance with this process's host and pid) is recorded when the key is new, and a failed,
  // paused, pruned or abandoned record becomes running with this holder, keeping its epochs, metrics and
  // CPU seconds (a run resumed from a rung). The claimer later records the run's outcome with
  // record_run, which replaces the claim.
  enum class Claim { claimed, done, taken };
  using HolderAlive = std::function<bool(const std::string& host, int64_t pid)>;
  Claim claim_run(const RunRecord& run, const HolderAlive& holder_alive);
  // Sets a run that is not final to `status` (failed or pruned) with `error` as the reason, keeping its
  // epochs and metrics (a pruned run's rung metrics stay part of its search's decisions; a run that
  // failed after a rung resumes from it). Returns false, changing nothing, when the key has a final
  // record or none.
  bool update_status(const std::string& key, RunStatus status, const std::string& error);
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
  // One run's status, holder and CPU seconds, and with `with_epochs` its epochs; nullopt for an unknown key.
  std::optional<RunState> run_state(const std::string& key, bool with_epochs);
  // The names of the recorded sweeps, sorted.
  std::vector<std::string> sweeps();
  // The canonical JSON of the spec last recorded under sweep `name`; empty when none was recorded.
  std::string sweep_spec(const std::string& name);
  // Writes a compact, self-contained copy of this database to `destination` atomically: VACUUM INTO a
  // temporary file next to it, then rename, so that a reader (a merge job on another node) sees the old
  // file or the whole new one, never a half-written one. Replaces `destination` if it exists.
  void publish(const std::string& destination);
  // SQLite's PRAGMA integrity_check: "ok" for a healthy file.
  std::string integrity_check();

  // Copies every run of the results database `input` that is new here (by run key), with its epochs,
  // metrics, architecture, task setting and sweeps, in one transaction. A run here that is not final
  // gives way to the input's record of the key when that one is further on: final, or with more epochs,
  // or pruned with as many (a halving decision recorded by a cluster task). `input` is only read, and
  // must have this schema version. Merging the same input again adds nothing. (Defined in merge.cpp.)
  MergeStats merge_from(const std::string& input);

 private:
  explicit ResultsDb(std::unique_ptr<Connection> connection);
  std::unique_ptr<Connection> db_;
};

// Opens (creating) `out` and merges the `inputs` into it one at a time, each in its own transaction
// (SQLite attaches at most 10 databases at once, and an interrupted merge keeps the inputs done so far).
std::vector<MergeStats> merge_into(const std::string& out, const std::vector<std::string>& inputs);

}  // namespace mad::results
