#include "results/results_db.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include "config/canonical.h"
#include "config/yaml.h"
#include "core/error.h"
#include "results/db_files.h"
#include "results/provenance.h"
#include "results/run_key.h"
#include "results/schema.h"
#include "results/sqlite.h"

namespace mad::results {

namespace {

// Rejects records that would store something the readers cannot trust, before anything is written.
void check_record(const RunRecord& run) {
  task_of(run.task_settings);
  MAD_CHECK(!run.architecture.name.empty(), "record_run: the architecture has no name");
  MAD_CHECK(run.architecture.spec.is_map(), "record_run: architecture '{}': the spec must be a map, got {}",
            run.architecture.name, run.architecture.spec.describe());
  const TrainingSettings& t = run.training;
  MAD_CHECK(std::isfinite(t.lr) && t.lr >= 0 && std::isfinite(t.weight_decay) && t.weight_decay >= 0,
            "record_run: lr ({}) and weight_decay ({}) must be finite and non-negative", t.lr, t.weight_decay);
  MAD_CHECK(t.epochs > 0 && t.batch_size > 0, "record_run: epochs ({}) and batch_size ({}) must be positive", t.epochs,
            t.batch_size);
  MAD_CHECK(run.status != RunStatus::completed || run.final.has_value(),
            "record_run: a completed run needs its final metrics");
  MAD_CHECK(!run.provenance.started_at.empty(), "record_run: provenance.started_at is empty (see results::this_process)");
  int64_t previous = 0;
  for (const EpochMetrics& e : run.epochs) {
    MAD_CHECK(e.epoch > previous, "record_run: epoch numbers must increase from 1; epoch {} follows {}", e.epoch,
              previous);
    previous = e.epoch;
  }
}

// Binds the four metrics of a split to parameters first, first + 1, ...
void bind_metrics(Statement& s, int first, const Metrics& m) {
  s.bind(first, m.loss).bind(first + 1, m.ppl).bind(first + 2, m.acc).bind(first + 3, m.token_acc);
}

// A stored double; NULL (a NaN when it was written) reads back as NaN.
double real_or_nan(const Statement& s, int column) {
  return s.optional_real(column).value_or(std::numeric_limits<double>::quiet_NaN());
}

Metrics read_metrics(const Statement& s, int first) {
  return Metrics{real_or_nan(s, first), real_or_nan(s, first + 1), real_or_nan(s, first + 2), real_or_nan(s, first + 3)};
}

// A stored canonical JSON document as a configuration value (JSON is YAML).
config::Value parse_json(const std::string& text, const std::string& source) { return config::load_string(text, source); }

std::optional<std::string> optional_text(const std::string& text) {
  return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

void insert_sweep_if_missing(Connection& db, const std::string& sweep) {
  Statement s(db, "INSERT OR IGNORE INTO sweeps (name, spec, created_at) VALUES (?1, NULL, ?2)");
  s.bind_all(sweep, utc_timestamp()).run();
}

void add_membership(Connection& db, const std::string& sweep, const std::string& key) {
  insert_sweep_if_missing(db, sweep);
  Statement member(db, "INSERT OR IGNORE INTO sweep_runs (sweep, run_key) VALUES (?1, ?2)");
  member.bind_all(sweep, key).run();
}

// Writes `run` inside the caller's transaction (see record_run); returns whether its run row is new.
bool write_run(Connection& db, const RunRecord& run);

}  // namespace

ResultsDb::ResultsDb(std::unique_ptr<Connection> connection) : db_(std::move(connection)) {}
ResultsDb::ResultsDb(ResultsDb&&) noexcept = default;
ResultsDb& ResultsDb::operator=(ResultsDb&&) noexcept = default;
ResultsDb::~ResultsDb() = default;

const std::string& ResultsDb::path() const { return db_->path(); }

ResultsDb ResultsDb::open(const std::string& path, Access access, LockWait lock_wait) {
  const bool read_only = access == Access::read_only;
  MAD_CHECK(!read_only || std::filesystem::exists(path), "{}: no such results database; give the file a sweep wrote",
            path);
  auto db = std::make_unique<Connection>(path, read_only ? Connection::Access::read_only : Connection::Access::read_write,
                                         std::move(lock_wait));
  // SQLite opens a file it cannot write read-only without saying so; say it now, not at the first run.
  if (!read_only && db->read_only()) {
    const std::string obstacle = write_obstacle(path);
    fail(fmt::format("{}: the file is read-only{}; make the file and its directory writable (SQLite also writes "
                     "FILE-wal and FILE-shm next to it), or copy the database somewhere writable",
                     path, obstacle.empty() ? "" : " (" + obstacle + ")"));
  }
  db->exec("PRAGMA foreign_keys = ON");
  // The first read: a file that is not a database fails here.
  const int version = stored_schema_version(*db, "main", path);
  check_not_newer(version, path);
  if (read_only) {
    MAD_CHECK(version == current_schema_version(),
              "{}: {}; open it once for writing with this mad to bring it to schema version {}", path,
              version == 0 ? "an empty database, not a results database yet"
                           : fmt::format("written with results schema version {}", version),
              current_schema_version());
  } else {
    db->enable_wal();
    migrate(*db);
  }
  return ResultsDb(std::move(db));
}

// ---- writing ---------------------------------------------------------------------------------------

bool ResultsDb::record_run(const RunRecord& run) {
  check_record(run);
  Transaction transaction(*db_);
  const bool inserted = write_run(*db_, run);
  transaction.commit();
  return inserted;
}

ResultsDb::Claim ResultsDb::claim_run(const RunRecord& run, const HolderAlive& holder_alive) {
  MAD_CHECK(run.status == RunStatus::running, "claim_run: the claim must have status running");
  check_record(run);
  const std::string key = results::run_key(run);
  Transaction transaction(*db_);
  Statement seen(*db_, "SELECT status, host, coalesce(pid, 0) FROM runs WHERE key = ?1");
  seen.bind_all(key);
  if (seen.step()) {
    const RunStatus status = status_from_name(seen.text(0));
    if (is_final(status)) {
      if (!run.sweep.empty()) add_membership(*db_, run.sweep, key);
      transaction.commit();
      return Claim::done;
    }
    if (status == RunStatus::running && holder_alive(seen.text(1), seen.int64(2))) return Claim::taken;
    seen.reset();
    // The run stays as it is (its epochs: a paused run's rung metrics must stay readable while it trains
    // on, since its siblings' decisions read them); only who holds it changes. Its start is kept when it
    // has epochs (a run continuing from a rung), else it starts now.
    Statement take(*db_, R"sql(
UPDATE runs SET status = 'running', code_version = ?2, build_flags = ?3, threads = ?4, host = ?5, pid = ?6,
  started_at = CASE WHEN EXISTS (SELECT 1 FROM run_epochs WHERE run_key = ?1) THEN started_at ELSE ?7 END,
  finished_at = NULL, error = NULL
WHERE key = ?1)sql");
    const Provenance& p = run.provenance;
    take.bind_all(key, p.code_version, p.build_flags, p.threads, p.host, p.pid, p.started_at).run();
    if (!run.sweep.empty()) add_membership(*db_, run.sweep, key);
    transaction.commit();
    return Claim::claimed;
  }
  seen.reset();
  write_run(*db_, run);
  transaction.commit();
  return Claim::claimed;
}

bool ResultsDb::update_status(const std::string& key, RunStatus status, const std::string& error) {
  MAD_CHECK(status == RunStatus::failed || status == RunStatus::pruned,
            "update_status: only failed or pruned, got {}", status_name(status));
  Transaction transaction(*db_);
  Statement update(*db_,
                   "UPDATE runs SET status = ?2, error = ?3, finished_at = ?4 "
                   "WHERE key = ?1 AND status NOT IN ('completed', 'diverged')");
  update.bind_all(key, status_name(status), optional_text(error), utc_timestamp()).run();
  const bool updated = db_->changes() == 1;
  transaction.commit();
  return updated;
}

namespace {

bool write_run(Connection& db, const RunRecord& run) {
  const config::Value identity = run_config(run.architecture.spec, run.task_settings, run.training);
  const std::string key = config::canonical_hash(identity);
  const std::string arch_hash = config::canonical_hash(run.architecture.spec);
  const std::string setting_hash = config::canonical_hash(run.task_settings);

  if (!run.sweep.empty()) insert_sweep_if_missing(db, run.sweep);
  Statement arch(db,
                 "INSERT OR IGNORE INTO architectures (hash, name, spec, params, state_size, fixed_state) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  const ArchitectureInfo& a = run.architecture;
  arch.bind_all(arch_hash, a.name, config::canonical(a.spec), a.params, a.state_size, int64_t{a.fixed_state}).run();
  Statement setting(db, "INSERT OR IGNORE INTO task_settings (hash, task, settings) VALUES (?1, ?2, ?3)");
  setting.bind_all(setting_hash, task_of(run.task_settings), config::canonical(run.task_settings)).run();

  // A record that is not final (failed, running, paused, pruned) gives way (its epochs and metrics go
  // with it: ON DELETE CASCADE; `run` carries every epoch of a resumed run); a final one stays, and the
  // INSERT OR IGNORE below then writes nothing.
  Statement replace(db, "DELETE FROM runs WHERE key = ?1 AND status NOT IN ('completed', 'diverged')");
  replace.bind_all(key).run();
  Statement insert(db,
                   "INSERT OR IGNORE INTO runs (key, sweep, architecture, task_setting, lr, weight_decay, epochs, "
                   "batch_size, seed, config, status, code_version, build_flags, threads, host, started_at, "
                   "finished_at, error, pid, cpu_seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
                   "?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)");
  const TrainingSettings& t = run.training;
  const Provenance& p = run.provenance;
  insert.bind_all(key, optional_text(run.sweep), arch_hash, setting_hash, t.lr, t.weight_decay, t.epochs, t.batch_size,
                  t.seed, config::canonical(identity), status_name(run.status), p.code_version, p.build_flags,
                  p.threads, p.host, p.started_at, optional_text(p.finished_at), optional_text(run.error), p.pid,
                  run.cpu_seconds);
  insert.run();
  const bool inserted = db.changes() == 1;

  if (inserted && run.final) {
    const FinalMetrics& f = *run.final;
    Statement metrics(db,
                      "INSERT INTO run_metrics (run_key, best_epoch, train_loss, train_ppl, train_acc, train_token_acc, "
                      "test_loss, test_ppl, test_acc, test_token_acc, last_test_loss, last_test_ppl, last_test_acc, "
                      "last_test_token_acc, epochs_run, seconds) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
    metrics.bind_all(key, f.best_epoch);
    bind_metrics(metrics, 3, f.train);
    bind_metrics(metrics, 7, f.test);
    bind_metrics(metrics, 11, f.last_test);
    metrics.bind(15, f.epochs_run).bind(16, f.seconds).run();
  }
  if (inserted) {
    Statement epoch(db,
                    "INSERT INTO run_epochs (run_key, epoch, lr, train_loss, train_ppl, train_acc, train_token_acc, "
                    "test_loss, test_ppl, test_acc, test_token_acc, seconds) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    for (const EpochMetrics& e : run.epochs) {
      epoch.bind_all(key, e.epoch, e.lr);
      bind_metrics(epoch, 4, e.train);
      bind_metrics(epoch, 8, e.test);
      epoch.bind(12, e.seconds).run();
      epoch.reset();
    }
  }
  if (!run.sweep.empty()) add_membership(db, run.sweep, key);
  return inserted;
}

}  // namespace

void ResultsDb::record_sweep(const std::string& name, const config::Value& spec) {
  MAD_CHECK(!name.empty(), "record_sweep: the sweep has no name");
  Transaction transaction(*db_);
  Statement s(*db_,
              "INSERT INTO sweeps (name, spec, created_at) VALUES (?1, ?2, ?3) "
              "ON CONFLICT (name) DO UPDATE SET spec = excluded.spec");
  s.bind_all(name, config::canonical(spec), utc_timestamp()).run();
  transaction.commit();
}

void ResultsDb::add_to_sweep(const std::string& sweep, const std::string& key) {
  MAD_CHECK(!sweep.empty(), "add_to_sweep: the sweep has no name");
  Transaction transaction(*db_);
  Statement exists(*db_, "SELECT count(*) FROM runs WHERE key = ?1");
  exists.bind_all(key);
  MAD_CHECK(exists.step() && exists.int64(0) == 1, "{}: add_to_sweep: no run with key {}", path(), key);
  add_membership(*db_, sweep, key);
  transaction.commit();
}

// ---- reading ---------------------------------------------------------------------------------------

bool ResultsDb::has_completed(const std::string& key) {
  Statement s(*db_, "SELECT count(*) FROM runs WHERE key = ?1 AND status IN ('completed', 'diverged')");
  s.bind_all(key);
  return s.step() && s.int64(0) > 0;
}

std::unordered_set<std::string> ResultsDb::completed_keys(const std::string& sweep) {
  Statement s(*db_,
              "SELECT key FROM runs WHERE status IN ('completed', 'diverged') "
              "AND (?1 = '' OR key IN (SELECT run_key FROM sweep_runs WHERE sweep = ?1))");
  s.bind_all(sweep);
  std::unordered_set<std::string> keys;
  while (s.step()) keys.insert(s.text(0));
  return keys;
}

std::vector<StoredRun> ResultsDb::runs(const RunFilter& filter) {
  Statement s(*db_, R"sql(
SELECT r.key, r.architecture, r.task_setting, coalesce(r.sweep, ''), a.name, a.spec, a.params, a.state_size,
       a.fixed_state, t.settings, r.lr, r.weight_decay, r.epochs, r.batch_size, r.seed, r.status,
       r.code_version, r.build_flags, r.threads, r.host, r.started_at, coalesce(r.finished_at, ''),
       coalesce(r.error, ''), m.run_key IS NOT NULL, m.best_epoch, m.epochs_run, m.seconds,
       m.train_loss, m.train_ppl, m.train_acc, m.train_token_acc,
       m.test_loss, m.test_ppl, m.test_acc, m.test_token_acc,
       m.last_test_loss, m.last_test_ppl, m.last_test_acc, m.last_test_token_acc, coalesce(r.pid, 0),
       r.cpu_seconds
FROM runs r
JOIN architectures a ON a.hash = r.architecture
JOIN task_settings t ON t.hash = r.task_setting
LEFT JOIN run_metrics m ON m.run_key = r.key
WHERE (?1 = '' OR r.key IN (SELECT run_key FROM sweep_runs WHERE sweep = ?1))
  AND (?2 IS NULL OR r.status = ?2)
  AND (?3 = '' OR t.task = ?3)
  AND (?4 = '' OR substr(r.key, 1, length(?4)) = ?4)
ORDER BY r.started_at, r.key)sql");
  s.bind(1, filter.sweep).bind(3, filter.task).bind(4, filter.key_prefix);
  if (filter.status) s.bind(2, status_name(*filter.status));
  else s.bind(2, std::nullopt);

  // Specs and settings are shared by many runs: parse each once.
  std::map<std::string, config::Value> parsed;
  const auto parse_once = [&](const std::string& hash, const std::string& json) -> const config::Value& {
    auto it = parsed.find(hash);
    if (it == parsed.end()) it = parsed.emplace(hash, parse_json(json, path() + ": " + hash)).first;
    return it->second;
  };
  std::vector<StoredRun> out;
  while (s.step()) {
    StoredRun r;
    r.key = s.text(0);
    r.architecture_hash = s.text(1);
    r.setting_hash = s.text(2);
    RunRecord& run = r.run;
    run.sweep = s.text(3);
    run.architecture = ArchitectureInfo{s.text(4), parse_once(r.architecture_hash, s.text(5)), s.int64(6), s.int64(7),
                                        s.int64(8) != 0};
    run.task_settings = parse_once(r.setting_hash, s.text(9));
    run.training = TrainingSettings{s.real(10), s.real(11), s.int64(12), s.int64(13), s.int64(14)};
    run.status = status_from_name(s.text(15));
    run.provenance = Provenance{s.text(16), s.text(17), s.int64(18), s.text(19), s.text(20), s.text(21), s.int64(39)};
    run.error = s.text(22);
    run.cpu_seconds = s.optional_real(40);
    if (s.int64(23) != 0) {
      FinalMetrics f;
      f.best_epoch = s.int64(24);
      f.epochs_run = s.int64(25);
      f.seconds = real_or_nan(s, 26);
      f.train = read_metrics(s, 27);
      f.test = read_metrics(s, 31);
      f.last_test = read_metrics(s, 35);
      run.final = f;
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<EpochMetrics> ResultsDb::epochs(const std::string& key) {
  Statement s(*db_,
              "SELECT epoch, lr, train_loss, train_ppl, train_acc, train_token_acc, test_loss, test_ppl, test_acc, "
              "test_token_acc, seconds FROM run_epochs WHERE run_key = ?1 ORDER BY epoch");
  s.bind_all(key);
  std::vector<EpochMetrics> out;
  while (s.step()) {
    out.push_back(EpochMetrics{s.int64(0), real_or_nan(s, 1), read_metrics(s, 2), read_metrics(s, 6), real_or_nan(s, 10)});
  }
  return out;
}

std::optional<RunState> ResultsDb::run_state(const std::string& key, bool with_epochs) {
  Statement s(*db_, "SELECT status, host, coalesce(pid, 0), started_at, cpu_seconds FROM runs WHERE key = ?1");
  s.bind_all(key);
  if (!s.step()) return std::nullopt;
  RunState state{status_from_name(s.text(0)), s.text(1), s.int64(2), s.text(3), s.optional_real(4), {}};
  if (with_epochs) state.epochs = epochs(key);
  return state;
}

std::vector<std::string> ResultsDb::sweeps() {
  Statement s(*db_, "SELECT name FROM sweeps ORDER BY name");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::string ResultsDb::sweep_spec(const std::string& name) {
  Statement s(*db_, "SELECT coalesce(spec, '') FROM sweeps WHERE name = ?1");
  s.bind_all(name);
  return s.step() ? s.text(0) : "";
}

void ResultsDb::publish(const std::string& destination) {
  const std::string temporary = destination + ".tmp";
  std::error_code ignored;
  std::filesystem::remove(temporary, ignored);  // a leftover of an interrupted publish
  Statement vacuum(*db_, "VACUUM INTO ?1", "publishing the database");
  vacuum.bind_all(temporary).run();
  std::error_code error;
  std::filesystem::rename(temporary, destination, error);
  MAD_CHECK(!error, "{}: cannot publish to {}: {}; check that its directory exists and is writable", path(), destination,
            error.message());
}

std::string ResultsDb::integrity_check() {
  Statement s(*db_, "PRAGMA integrity_check");
  std::string out;
  while (s.step()) out += (out.empty() ? "" : "; ") + s.text(0);
  return out;
}

}  // namespace mad::results
