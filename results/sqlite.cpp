#include "results/sqlite.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "results/db_files.h"

namespace mad::results {

namespace {

// Whether SQLite's result code `rc` (and the OS error behind it) means that it could not create or write
// FILE-wal or FILE-shm: a read-only directory or mount, or a full disk (FILE-shm needs 32 KiB).
bool cannot_use_wal_files(int rc, int os_errno) {
  if ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY) return true;
  return (rc & 0xff) == SQLITE_IOERR && (os_errno == ENOSPC || os_errno == EDQUOT || os_errno == EROFS);
}

// `path` as a file: URI (RFC 3986 percent-encoding of everything but unreserved characters and '/'), so
// that a name with '?', '#' or '%' cannot turn into URI parameters.
std::string file_uri(const std::string& path, std::string_view parameters) {
  std::string uri = "file:";
  for (const unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') uri += static_cast<char>(c);
    else uri += fmt::format("%{:02X}", c);
  }
  return fmt::format("{}?{}", uri, parameters);
}

// The extended I/O error codes of file locking: where these fail, the file system does not do POSIX
// locks properly, which is what network file systems get wrong.
bool is_lock_io_error(int rc) {
  return rc == SQLITE_IOERR_LOCK || rc == SQLITE_IOERR_RDLOCK || rc == SQLITE_IOERR_UNLOCK ||
         rc == SQLITE_IOERR_CHECKRESERVEDLOCK || rc == SQLITE_IOERR_SHMLOCK;
}

}  // namespace

// ---- Connection ------------------------------------------------------------------------------------

Connection::Connection(const std::string& path, Access access, LockWait lock_wait)
    : path_(path), lock_wait_(std::move(lock_wait)) {
  if (access == Access::read_write) {
    if (const int rc = open_handle(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE); rc != SQLITE_OK) {
      const std::string message = error_text(rc, "opening the results database");
      sqlite3_close_v2(db_);
      throw Error(message);
    }
    return;
  }
  // Read-only: see the header for the order of the attempts. Each ends at the first read (probe), where
  // SQLite opens FILE-wal and FILE-shm. A probe that fails otherwise (not a database, damaged) is left
  // to the caller's first statement, which says it in its words.
  const auto attempt = [&](const std::string& target, int flags) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    int rc = open_handle(target, flags);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db_, "PRAGMA query_only = ON", nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? probe() : rc;
  };
  const auto no_wal_files = [&](int rc) { return cannot_use_wal_files(rc, db_ ? sqlite3_system_errno(db_) : 0); };
  int rc = attempt(path, SQLITE_OPEN_READWRITE);
  if (no_wal_files(rc)) rc = attempt(file_uri(path, "mode=ro"), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  if (no_wal_files(rc) && !has_pending_wal(path))
    rc = attempt(file_uri(path, "immutable=1"), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  if (rc == SQLITE_OK || (rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT) return;
  std::string message = error_text(rc, "opening the results database");
  if (no_wal_files(rc) && has_pending_wal(path)) {
    const std::string obstacle = write_obstacle(path);
    message = fmt::format("{}: reading the results database: {}-wal holds writes that are not in the file yet, and "
                          "SQLite cannot create {}-shm to read them ({}); open it once where the directory is "
                          "writable, or copy the file with its -wal somewhere writable",
                          path, path, path, obstacle.empty() ? sqlite3_errmsg(db_) : obstacle);
  }
  sqlite3_close_v2(db_);
  db_ = nullptr;
  throw Error(message);
}

int Connection::open_handle(const std::string& target, int flags) {
  db_ = nullptr;
  const int rc = sqlite3_open_v2(target.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) return rc;
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_handler(db_, &Connection::on_busy, this);
  return SQLITE_OK;
}

int Connection::probe() { return sqlite3_exec(db_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr); }

Connection::~Connection() { sqlite3_close_v2(db_); }

int Connection::on_busy(void* self, int attempts) {
  auto& c = *static_cast<Connection*>(self);
  using Clock = std::chrono::steady_clock;
  const auto now = Clock::now();
  if (attempts == 0) {
    c.wait_started_ = now;
    c.announced_ = false;
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - c.wait_started_).count();
  if (waited >= c.lock_wait_.timeout_ms && !(c.lock_wait_.keep_waiting && c.lock_wait_.keep_waiting())) return 0;
  // A second is long for a commit of another mad process (milliseconds): say why nothing happens.
  if (waited >= 1000 && !c.announced_) {
    std::fprintf(stderr, "mad: %s: waiting for the database lock (held by another process)...%s\n", c.path_.c_str(),
                 c.lock_wait_.keep_waiting ? " (Ctrl-C stops)"
                                           : fmt::format(" (giving up after {} s)", c.lock_wait_.timeout_ms / 1000.0).c_str());
    c.announced_ = true;
  }
  // SQLite's own backoff: short sleeps first, since most waits are for another process's commit.
  static constexpr int kDelaysMs[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
  constexpr int kDelays = sizeof(kDelaysMs) / sizeof(kDelaysMs[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(kDelaysMs[std::min(attempts, kDelays - 1)]));
  return 1;
}

std::string Connection::cause(int rc) const {
  const int os_errno = db_ != nullptr ? sqlite3_system_errno(db_) : 0;
  switch (rc & 0xff) {
    case SQLITE_NOTADB: return "give a results database written by mad, or the name of a new file";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return fmt::format("another process (a sweep, a merge, a sqlite3 shell) held the database's write lock for more "
                         "than {} ms; wait for it to finish or use another database file",
                         lock_wait_.timeout_ms);
    case SQLITE_CORRUPT: return "the file is damaged; restore it from a copy or merge its shards again";
    case SQLITE_FULL: return os_error_cause(ENOSPC, path_);
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN: {
      if (const std::string os = os_error_cause(os_errno, path_); !os.empty() && os_errno != EACCES) return os;
      if (const std::string obstacle = write_obstacle(path_); !obstacle.empty()) {
        return obstacle + ((rc & 0xff) == SQLITE_CANTOPEN && obstacle.ends_with("does not exist")
                               ? "; create it or give another path"
                               : "; SQLite writes FILE-wal and FILE-shm next to the database: make the directory "
                                 "writable or copy the database somewhere writable");
      }
      if ((rc & 0xff) == SQLITE_READONLY)
        return "the file is read-only; make it writable, or copy the database somewhere writable";
      return "check that the file exists and that this user may read and write it";
    }
    case SQLITE_IOERR:
      if (const std::string os = os_error_cause(os_errno, path_); !os.empty()) return os;
      if (is_lock_io_error(rc)) return "file locking failed: a network file system cannot hold a shared database";
      return os_errno != 0 ? fmt::format("the operating system said: {}; check the disk", std::strerror(os_errno))
                           : "check the disk and the file system";
  }
  return "";
}

std::string Connection::error_text(int rc, std::string_view what) const {
  const char* message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  const std::string fix = cause(rc);
  return fmt::format("{}: {}: {}{}{}", path_, what, message, fix.empty() ? "" : "; ", fix);
}

void Connection::fail(int rc, std::string_view what) const { throw Error(error_text(rc, what)); }

void Connection::exec(std::string_view sql, std::string_view what) {
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, what);
}

void Connection::enable_wal() {
  // Switching needs an exclusive lock for a moment, and SQLite does not wait for it through the busy
  // handler: when two processes create a database at the same moment, one gets SQLITE_BUSY at once. So
  // wait here, within the busy timeout.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(lock_wait_.timeout_ms);
  for (;;) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode = WAL", -1, &stmt, nullptr);
    std::string mode;
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(stmt);
      if (rc == SQLITE_ROW) mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    if (rc == SQLITE_ROW) {
      MAD_CHECK(mode == "wal", "{}: the file system does not support SQLite's WAL mode (journal mode stays '{}'); "
                "put the database on a local disk", path_, mode);
      return;
    }
    if ((rc & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline) fail(rc, "switching to WAL mode");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int64_t Connection::query_int(std::string_view sql) {
  Statement statement(*this, sql);
  return statement.step() ? statement.int64(0) : 0;
}

int64_t Connection::changes() const { return sqlite3_changes64(db_); }

bool Connection::read_only() const { return sqlite3_db_readonly(db_, "main") == 1; }

// ---- Statement -------------------------------------------------------------------------------------

Statement::Statement(Connection& connection, std::string_view sql, std::string_view what)
    : connection_(connection), what_(what) {
  const int rc = sqlite3_prepare_v2(connection_.handle(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) connection_.fail(rc, what_);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) connection_.fail(rc, what_);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  const int rc = std::isnan(value) ? sqlite3_bind_null(stmt_, index) : sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) connection_.fail(rc, what_);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  const int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) connection_.fail(rc, what_);
  return *this;
}

Statement& Statement::bind(int index, std::nullopt_t) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) connection_.fail(rc, what_);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  connection_.fail(rc, what_);
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }

std::optional<double> Statement::optional_real(int column) const {
  if (is_null(column)) return std::nullopt;
  return real(column);
}

std::string Statement::text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return text != nullptr ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
}

// ---- Transaction -----------------------------------------------------------------------------------

Transaction::Transaction(Connection& connection) : connection_(connection) {
  connection_.exec("BEGIN IMMEDIATE", "starting a write");
}

Transaction::~Transaction() {
  // A failed statement may already have ended the transaction; ROLLBACK then fails harmlessly, and a
  // destructor must not throw.
  if (open_) sqlite3_exec(connection_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  connection_.exec("COMMIT", "committing a write");
  open_ = false;
}

}  // namespace mad::results
