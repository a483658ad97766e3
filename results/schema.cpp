#include "results/schema.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <span>

#include "core/error.h"

namespace mad::results {

namespace {

struct Migration {
  int version;
  std::string_view sql;
};

// The schema's whole history. Append a step to change it; never edit a step that has been released,
// because databases in the field already ran it. Each step runs inside the migration's transaction.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE schema_version (
  version INTEGER PRIMARY KEY,
  applied_at TEXT NOT NULL
);

-- A named sweep and, when known, the canonical JSON of its spec (the latest run of the sweep wins).
CREATE TABLE sweeps (
  name TEXT PRIMARY KEY,
  spec TEXT,
  created_at TEXT NOT NULL
);

-- An architecture, identified by the SHA-256 of its canonical resolved spec.
CREATE TABLE architectures (
  hash TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  params INTEGER NOT NULL,
  state_size INTEGER NOT NULL,
  fixed_state INTEGER NOT NULL CHECK (fixed_state IN (0, 1))
);

-- A task setting (the data a run trains on), identified by the SHA-256 of its canonical JSON.
CREATE TABLE task_settings (
  hash TEXT PRIMARY KEY,
  task TEXT NOT NULL,
  settings TEXT NOT NULL
);

-- One training run. key = SHA-256 of config (see results/run_key.h).
CREATE TABLE runs (
  key TEXT PRIMARY KEY,
  sweep TEXT REFERENCES sweeps(name),
  architecture TEXT NOT NULL REFERENCES architectures(hash),
  task_setting TEXT NOT NULL REFERENCES task_settings(hash),
  lr REAL NOT NULL,
  weight_decay REAL NOT NULL,
  epochs INTEGER NOT NULL,
  batch_size INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  config TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('completed', 'diverged', 'failed', 'running')),
  code_version TEXT NOT NULL,
  build_flags TEXT NOT NULL,
  threads INTEGER NOT NULL,
  host TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  error TEXT
);
CREATE INDEX runs_by_architecture ON runs(architecture, task_setting);
CREATE INDEX runs_by_status ON runs(status);

-- Which runs belong to which sweep. A run can serve several sweeps (its key does not include the sweep):
-- a sweep that finds a run already recorded adds it here instead of training it again. The reference to
-- runs is checked at commit, so that a failed run can be replaced within one transaction.
CREATE TABLE sweep_runs (
  sweep TEXT NOT NULL REFERENCES sweeps(name),
  run_key TEXT NOT NULL REFERENCES runs(key) DEFERRABLE INITIALLY DEFERRED,
  PRIMARY KEY (sweep, run_key)
) WITHOUT ROWID;

-- Every epoch's metrics.
CREATE TABLE run_epochs (
  run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  lr REAL,
  train_loss REAL, train_ppl REAL, train_acc REAL, train_token_acc REAL,
  test_loss REAL, test_ppl REAL, test_acc REAL, test_token_acc REAL,
  seconds REAL,
  PRIMARY KEY (run_key, epoch)
) WITHOUT ROWID;

-- The reported metrics: the epoch with the lowest test perplexity, and the last epoch's test metrics.
CREATE TABLE run_metrics (
  run_key TEXT PRIMARY KEY REFERENCES runs(key) ON DELETE CASCADE,
  best_epoch INTEGER NOT NULL,
  train_loss REAL, train_ppl REAL, train_acc REAL, train_token_acc REAL,
  test_loss REAL, test_ppl REAL, test_acc REAL, test_token_acc REAL,
  last_test_loss REAL, last_test_ppl REAL, last_test_acc REAL, last_test_token_acc REAL,
  epochs_run INTEGER NOT NULL,
  seconds REAL
);

-- One row per run with names and reported metrics, for plain SQL queries.
CREATE VIEW run_results AS
SELECT r.key, r.sweep, a.name AS architecture, r.architecture AS architecture_hash, s.task,
       s.settings, r.task_setting AS setting_hash, r.lr, r.weight_decay, r.epochs, r.batch_size, r.seed,
       r.status, m.best_epoch, m.epochs_run, m.test_acc, m.test_token_acc, m.test_loss, m.test_ppl,
       m.train_acc, m.train_token_acc, m.train_loss, m.train_ppl, m.seconds, r.started_at, r.finished_at
FROM runs r
JOIN architectures a ON a.hash = r.architecture
JOIN task_settings s ON s.hash = r.task_setting
LEFT JOIN run_metrics m ON m.run_key = r.key;
)sql"},
    {2, R"sql(
-- The process id of the runner that holds a 'running' claim (with runs.host): a later runner on the same
-- host retries a claim whose process is gone. NULL for runs recorded by schema version 1.
ALTER TABLE runs ADD COLUMN pid INTEGER;
)sql"},
    {3, R"sql(
-- Successive halving (docs/sweeps.md): the statuses 'paused' (stopped at a rung, waiting for its decision)
-- and 'pruned' (stopped by the decision), and each run's process CPU time. SQLite cannot change a CHECK
-- constraint in place, so the runs table is rebuilt (migrate() turns foreign keys off around the steps,
-- or dropping the old table would delete every epoch and metric row with it) and its view re-created.
DROP VIEW run_results;
CREATE TABLE runs_v3 (
  key TEXT PRIMARY KEY,
  sweep TEXT REFERENCES sweeps(name),
  architecture TEXT NOT NULL REFERENCES architectures(hash),
  task_setting TEXT NOT NULL REFERENCES task_settings(hash),
  lr REAL NOT NULL,
  weight_decay REAL NOT NULL,
  epochs INTEGER NOT NULL,
  batch_size INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  config TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('completed', 'diverged', 'failed', 'running', 'paused', 'pruned')),
  code_version TEXT NOT NULL,
  build_flags TEXT NOT NULL,
  threads INTEGER NOT NULL,
  host TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  error TEXT,
  pid INTEGER,
  cpu_seconds REAL
);
INSERT INTO runs_v3 SELECT *, NULL FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v3 RENAME TO runs;
CREATE INDEX runs_by_architecture ON runs(architecture, task_setting);
CREATE INDEX runs_by_status ON runs(status);
CREATE VIEW run_results AS
SELECT r.key, r.sweep, a.name AS architecture, r.architecture AS architecture_hash, s.task,
       s.settings, r.task_setting AS setting_hash, r.lr, r.weight_decay, r.epochs, r.batch_size, r.seed,
       r.status, m.best_epoch, m.epochs_run, m.test_acc, m.test_token_acc, m.test_loss, m.test_ppl,
       m.train_acc, m.train_token_acc, m.train_loss, m.train_ppl, m.seconds, r.started_at, r.finished_at,
       r.cpu_seconds
FROM runs r
JOIN architectures a ON a.hash = r.architecture
JOIN task_settings s ON s.hash = r.task_setting
LEFT JOIN run_metrics m ON m.run_key = r.key;
)sql"},
    {4, R"sql(
-- A flat view for data frames (pandas' read_sql, docs/results-schema.md): one row per run with one column
-- per task-setting axis instead of the settings' JSON. The axes are the fields of tasks/settings.cpp; the
-- settings' own seed (the data generator's, set by a sweep's seeds:) is data_seed, next to the training
-- seed. A new task-setting field needs a step that re-creates this view.
CREATE VIEW run_table AS
SELECT r.key, r.sweep, a.name AS architecture, r.architecture AS architecture_hash, s.task,
       json_extract(s.settings, '$.vocab_size') AS vocab_size,
       json_extract(s.settings, '$.seq_len') AS seq_len,
       json_extract(s.settings, '$.num_train_examples') AS num_train_examples,
       json_extract(s.settings, '$.num_test_examples') AS num_test_examples,
       json_extract(s.settings, '$.k_motif_size') AS k_motif_size,
       json_extract(s.settings, '$.v_motif_size') AS v_motif_size,
       json_extract(s.settings, '$.multi_query') AS multi_query,
       json_extract(s.settings, '$.frac_noise') AS frac_noise,
       json_extract(s.settings, '$.noise_vocab_size') AS noise_vocab_size,
       json_extract(s.settings, '$.num_tokens_to_copy') AS num_tokens_to_copy,
       json_extract(s.settings, '$.seed') AS data_seed,
       r.task_setting AS setting_hash, a.params, a.state_size, a.fixed_state,
       r.lr, r.weight_decay, r.epochs, r.batch_size, r.seed, r.status, r.error,
       m.best_epoch, m.epochs_run, m.test_acc, m.test_token_acc, m.test_loss, m.test_ppl,
       m.train_acc, m.train_token_acc, m.train_loss, m.train_ppl,
       m.last_test_acc, m.last_test_loss, m.seconds, r.cpu_seconds, r.threads, r.host,
       r.started_at, r.finished_at
FROM runs r
JOIN architectures a ON a.hash = r.architecture
JOIN task_settings s ON s.hash = r.task_setting
LEFT JOIN run_metrics m ON m.run_key = r.key;
)sql"},
};

// Foreign keys off for the lifetime of the object (a no-op inside a transaction, so it must wrap one).
class ForeignKeysOff {
 public:
  explicit ForeignKeysOff(Connection& db) : db_(db) { db_.exec("PRAGMA foreign_keys = OFF"); }
  ~ForeignKeysOff() { sqlite3_exec(db_.handle(), "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr); }
  ForeignKeysOff(const ForeignKeysOff&) = delete;
  ForeignKeysOff& operator=(const ForeignKeysOff&) = delete;

 private:
  Connection& db_;
};

}  // namespace

int current_schema_version() { return std::span(kMigrations).back().version; }

int stored_schema_version(Connection& db, std::string_view schema, const std::string& file) {
  // One statement reads one snapshot: another process may create the schema between two statements.
  Statement q(db, fmt::format("SELECT count(*), coalesce(sum(type = 'table' AND name = 'schema_version'), 0) "
                              "FROM \"{}\".sqlite_master",
                              schema),
              "reading the results database");
  q.step();
  const int64_t objects = q.int64(0);
  const bool versioned = q.int64(1) > 0;
  if (!versioned) {
    MAD_CHECK(objects == 0,
              "{}: a SQLite database, but not a madcpp results database (it has no schema_version table); "
              "give a results database written by mad",
              file);
    return 0;
  }
  return static_cast<int>(db.query_int(fmt::format("SELECT coalesce(max(version), 0) FROM \"{}\".schema_version", schema)));
}

void check_not_newer(int version, const std::string& path) {
  MAD_CHECK(version <= current_schema_version(),
            "{}: results schema version {} is newer than this mad understands ({}); use a newer mad to read it",
            path, version, current_schema_version());
}

void migrate(Connection& db) {
  // Reading the version takes no write lock: once migrated, opening a database never blocks writers.
  const int seen = stored_schema_version(db, "main", db.path());
  check_not_newer(seen, db.path());
  if (seen == current_schema_version()) return;

  // Steps may rebuild tables: with foreign keys on, dropping a rebuilt table would cascade. They are
  // checked instead, before the commit.
  ForeignKeysOff foreign_keys_off(db);
  Transaction transaction(db);
  // Another process may have migrated the database between the read above and the write lock.
  const int version = stored_schema_version(db, "main", db.path());
  check_not_newer(version, db.path());
  for (const Migration& step : kMigrations) {
    if (step.version <= version) continue;
    db.exec(step.sql, fmt::format("creating the results schema (version {})", step.version));
    Statement record(db, "INSERT INTO schema_version (version, applied_at) VALUES (?1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))");
    record.bind_all(int64_t{step.version}).run();
  }
  MAD_CHECK(db.query_int("SELECT count(*) FROM pragma_foreign_key_check") == 0,
            "{}: migrating the results schema to version {} left rows whose references are broken; the database "
            "is unchanged: report this with a copy of the file",
            db.path(), current_schema_version());
  transaction.commit();
}

}  // namespace mad::results
