#include "results/sqlite.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "core/error.h"

namespace mad::results {

namespace {

// What to do about an error, by SQLite's primary result code.
std::string advice(int rc, int busy_timeout_ms) {
  switch (rc & 0xff) {
    case SQLITE_NOTADB: return "give a results database written by mad, or the name of a new file";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return fmt::format("another process held the database for more than {} ms; wait for it to finish or use "
                         "another database file",
                         busy_timeout_ms);
    case SQLITE_READONLY:
      return "make the file and its directory writable (SQLite also writes FILE-wal and FILE-shm next to it), "
             "or copy the database somewhere writable";
    case SQLITE_CANTOPEN: return "check that the directory exists and that the file can be opened";
    case SQLITE_FULL: return "free disk space and run again (the run was not recorded)";
    case SQLITE_CORRUPT: return "the file is damaged; restore it from a copy or merge its shards again";
    case SQLITE_IOERR: return "check the disk and the file system (a network file system cannot hold a shared database)";
    default: return "";
  }
}

}  // namespace

// ---- Connection ------------------------------------------------------------------------------------

Connection::Connection(const std::string& path, Access access, int busy_timeout_ms)
    : path_(path), busy_timeout_ms_(busy_timeout_ms) {
  // read_only still opens read-write (without creating) and forbids writes with query_only; see the header.
  const int flags = access == Access::read_only ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc == SQLITE_OK && access == Access::read_only) {
    rc = sqlite3_exec(db_, "PRAGMA query_only = ON", nullptr, nullptr, nullptr);
  }
  if (rc != SQLITE_OK) {
    // The handle exists even when opening failed: read its message, then close it (no destructor runs).
    const std::string message = error_text(rc, "opening the results database");
    sqlite3_close_v2(db_);
    throw Error(message);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, busy_timeout_ms);
}

Connection::~Connection() { sqlite3_close_v2(db_); }

std::string Connection::error_text(int rc, std::string_view what) const {
  const char* message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  const std::string fix = advice(rc, busy_timeout_ms_);
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
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms_);
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
