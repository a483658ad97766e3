// A thin RAII layer over the SQLite C API, used only inside results/ (the only code in madcpp that
// touches SQLite).
//
// Every SQLite error becomes a one-line mad::Error that names the database file, what was being done,
// SQLite's own message and the likely fix (a locked, read-only, full or non-database file each get
// their own advice), because these are the errors a researcher meets when pointing `mad` at a file.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "results/lock_wait.h"

struct sqlite3;
struct sqlite3_stmt;

namespace mad::results {

class Connection;

// A prepared statement. Bind parameters are 1-based, result columns 0-based. `what` describes it in
// error messages.
class Statement {
 public:
  Statement(Connection& connection, std::string_view sql, std::string_view what = "accessing the database");
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);  // NaN is stored as NULL (SQLite has no NaN)
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::nullopt_t);
  template <class T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind(index, std::nullopt);
  }
  // Binds the values to parameters 1, 2, ... in order.
  template <class... Args>
  Statement& bind_all(const Args&... values) {
    int index = 0;
    (bind(++index, values), ...);
    return *this;
  }

  // Advances to the next row: true when a row is available, false when done.
  bool step();
  // Steps to completion (for statements that return no rows).
  void run();
  // Makes the statement ready to be bound and run again.
  void reset();

  bool is_null(int column) const;
  int64_t int64(int column) const;
  double real(int column) const;
  std::optional<double> optional_real(int column) const;  // NULL (a stored NaN) -> nullopt
  std::string text(int column) const;                     // NULL -> ""

 private:
  Connection& connection_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string what_;
};

class Connection {
 public:
  enum class Access { read_write, read_only };

  // Opens `path`; read_write creates it when missing. read_only opens an existing file for queries only
  // and never writes the database. Where its directory is writable it opens the file read-write under
  // PRAGMA query_only, so that closing the last connection removes the WAL files (a read-only connection
  // would leave empty FILE-wal and FILE-shm behind); where SQLite cannot create FILE-shm (a read-only
  // directory or mount, a full disk) it reopens the file read-only (using an existing FILE-shm), and then
  // as `immutable` when FILE-wal holds nothing, which is exact: no writer can commit where it cannot
  // create or grow FILE-wal. A non-database file is detected by the first statement.
  Connection(const std::string& path, Access access, LockWait lock_wait = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements that return no rows; `what` describes them in an error message.
  void exec(std::string_view sql, std::string_view what = "updating the database");
  // Puts the database in WAL mode (a property of the file, kept once set), so that readers never block
  // the writer and writers queue on the busy timeout.
  void enable_wal();
  // The value of the first column of the first row of `sql` (a pragma or a count).
  int64_t query_int(std::string_view sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const;
  // True when the main database is open read-only (SQLite falls back to read-only, silently, when the
  // file is not writable).
  bool read_only() const;

  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

  // The one-line error for SQLite result code `rc` while doing `what`: file, action, SQLite's message,
  // the actual cause where the file system tells it (a full disk, a read-only mount, a missing
  // directory, the lock) and the fix. fail() throws it as mad::Error.
  std::string error_text(int rc, std::string_view what) const;
  [[noreturn]] void fail(int rc, std::string_view what) const;

 private:
  // Opens `target` (the path, or a file: URI) with `flags` into db_; returns SQLite's result code and,
  // on failure, leaves db_ open for its message (the caller closes it).
  int open_handle(const std::string& target, int flags);
  // The first read, where SQLite opens FILE-wal and FILE-shm; returns its result code.
  int probe();
  std::string cause(int rc) const;
  // SQLite's busy handler: sleeps, announces the wait once and decides when to give up (lock_wait_).
  static int on_busy(void* self, int attempts);

  sqlite3* db_ = nullptr;
  std::string path_;
  LockWait lock_wait_;
  std::chrono::steady_clock::time_point wait_started_;
  bool announced_ = false;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back by the destructor unless committed. IMMEDIATE takes the write
// lock at the start, where the busy timeout applies; a deferred transaction that upgrades from reading
// to writing fails at once with SQLITE_BUSY when another connection writes, and its work is lost.
class Transaction {
 public:
  explicit Transaction(Connection& connection);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& connection_;
  bool open_ = true;
};

}  // namespace mad::results
