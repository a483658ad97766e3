// Opening results databases: the schema and its version, WAL mode, and one-line errors for files that
// cannot serve (not a database, another program's database, a newer schema, read-only, locked, missing).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>

#include "results/results_db.h"
#include "results/schema.h"
#include "results_test_util.h"

namespace mad::results {
namespace {

using testing::error_of;
using testing::make_run;
using testing::RawDb;
using testing::SampleRun;
using testing::TempDir;

TEST(Schema, NewDatabaseHasEveryTableAndTheCurrentVersion) {
  TempDir dir("schema_new");
  const std::string path = dir.file("results.db");
  ResultsDb::open(path);
  RawDb raw(path);
  for (const char* table : {"schema_version", "sweeps", "architectures", "task_settings", "runs", "sweep_runs",
                            "run_epochs", "run_metrics"}) {
    EXPECT_EQ(raw.number(fmt::format("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{}'", table)), 1)
        << table;
  }
  EXPECT_EQ(raw.number("SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name = 'run_results'"), 1);
  EXPECT_EQ(raw.number("SELECT max(version) FROM schema_version"), current_schema_version());
  EXPECT_EQ(raw.count("schema_version"), current_schema_version());  // one row per migration step
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");  // WAL is a property of the file
}

TEST(Schema, ReopeningChangesNothing) {
  TempDir dir("schema_reopen");
  const std::string path = dir.file("results.db");
  ResultsDb::open(path).record_run(make_run({}));
  ResultsDb db = ResultsDb::open(path);
  EXPECT_EQ(db.runs().size(), 1u);
  RawDb raw(path);
  EXPECT_EQ(raw.count("schema_version"), current_schema_version());
  EXPECT_EQ(db.integrity_check(), "ok");
}

TEST(Schema, AnEmptyFileBecomesAResultsDatabase) {
  TempDir dir("schema_empty");
  const std::string path = dir.file("empty.db");
  std::ofstream(path).close();
  ResultsDb::open(path).record_run(make_run({}));
  EXPECT_EQ(RawDb(path).count("runs"), 1);
}

TEST(Schema, NewerSchemaIsRefusedInOneLine) {
  TempDir dir("schema_newer");
  const std::string path = dir.file("results.db");
  ResultsDb::open(path);
  RawDb(path).exec("INSERT INTO schema_version VALUES (99, '2030-01-01T00:00:00Z')");
  for (auto access : {ResultsDb::Access::read_write, ResultsDb::Access::read_only}) {
    const std::string message = error_of([&] { ResultsDb::open(path, access); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("schema version 99 is newer"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  // Nothing was migrated or written.
  EXPECT_EQ(RawDb(path).number("SELECT max(version) FROM schema_version"), 99);
}

TEST(Schema, NotADatabaseIsRefusedInOneLine) {
  TempDir dir("schema_text");
  const std::string path = dir.file("notes.txt");
  std::ofstream(path) << "these are my notes, not a database\n" << std::string(2000, 'x');
  for (auto access : {ResultsDb::Access::read_write, ResultsDb::Access::read_only}) {
    const std::string message = error_of([&] { ResultsDb::open(path, access); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("not a database"), std::string::npos) << message;
    EXPECT_NE(message.find("give a results database"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(Schema, AnotherProgramsDatabaseIsRefusedAndLeftAlone) {
  TempDir dir("schema_foreign");
  const std::string path = dir.file("other.db");
  RawDb(path).exec("CREATE TABLE customers (name TEXT)");
  const std::string message = error_of([&] { ResultsDb::open(path); });
  EXPECT_NE(message.find("not a madcpp results database"), std::string::npos) << message;
  EXPECT_EQ(RawDb(path).number("SELECT count(*) FROM sqlite_master"), 1);  // no tables of ours added
}

TEST(Schema, ReadOnlyAccessNeedsAnExistingFileAndWritesNothing) {
  TempDir dir("schema_ro");
  const std::string path = dir.file("missing.db");
  const std::string message = error_of([&] { ResultsDb::open(path, ResultsDb::Access::read_only); });
  EXPECT_NE(message.find("no such results database"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(path));

  ResultsDb::open(path).record_run(make_run({}));
  {
    ResultsDb reader = ResultsDb::open(path, ResultsDb::Access::read_only);
    EXPECT_EQ(reader.runs().size(), 1u);
    EXPECT_NE(error_of([&] { reader.record_run(make_run({.lr = 5e-4})); }).find("readonly"), std::string::npos);
  }
  EXPECT_EQ(RawDb(path).count("runs"), 1);
  // A reader leaves no empty WAL files behind.
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(path + "-shm"));
}

// The error from opening `path` for writing, as a user without write permission: root ignores file
// permissions, so as root the check runs in a child process that becomes `nobody`.
std::string open_error_without_write_permission(const std::string& path) {
  if (::geteuid() != 0) return error_of([&] { ResultsDb::open(path); });
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    std::string message = "setuid failed";
    if (::setgid(65534) == 0 && ::setuid(65534) == 0) message = error_of([&] { ResultsDb::open(path); });
    if (::write(fds[1], message.data(), message.size()) < 0) ::_exit(2);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof(buffer))) > 0;) message.append(buffer, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  return message;
}

TEST(Schema, ReadOnlyFileIsRefusedInOneLine) {
  TempDir dir("schema_perm");
  const std::string path = dir.file("results.db");
  ResultsDb::open(path).record_run(make_run({}));
  namespace fs = std::filesystem;
  fs::permissions(path, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  const std::string message = open_error_without_write_permission(path);
  fs::permissions(dir.path(), fs::perms::owner_all);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("read-only"), std::string::npos) << message;
  EXPECT_NE(message.find("writable"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(Schema, LockedDatabaseFailsAfterTheBusyTimeoutInOneLine) {
  TempDir dir("schema_locked");
  const std::string path = dir.file("results.db");
  ResultsDb::open(path);
  RawDb other(path);
  other.exec("BEGIN EXCLUSIVE");  // another process holding the write lock
  ResultsDb db = ResultsDb::open(path, ResultsDb::Access::read_write, LockWait{.timeout_ms = 200});
  const std::string message = error_of([&] { db.record_run(make_run({})); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("locked"), std::string::npos) << message;
  EXPECT_NE(message.find("more than 200 ms"), std::string::npos) << message;
  other.exec("ROLLBACK");
  EXPECT_TRUE(db.record_run(make_run({})));  // the failed attempt left nothing behind
}

TEST(Schema, MissingDirectoryIsAOneLineError) {
  const std::string message = error_of([] { ResultsDb::open("/nonexistent-dir/results.db"); });
  EXPECT_NE(message.find("/nonexistent-dir/results.db"), std::string::npos) << message;
  EXPECT_NE(message.find("the directory /nonexistent-dir does not exist"), std::string::npos) << message;
}

}  // namespace
}  // namespace mad::results
