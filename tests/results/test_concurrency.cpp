// Concurrent writers on one database file, each with its own connection (threads in one process, and
// separate processes), lose nothing and duplicate nothing: WAL, the busy timeout and IMMEDIATE
// transactions at work. The writers open the fresh file at the same moment (racing to create the
// schema), then start writing together. Without the busy timeout these tests fail: writes collide.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <functional>
#include <latch>
#include <thread>

#include "results/results_db.h"
#include "results_test_util.h"

namespace mad::results {
namespace {

using testing::make_run;
using testing::RawDb;
using testing::TempDir;

constexpr int kRunsPerWriter = 150;
constexpr int kShared = 10;  // runs both writers record (two workers finishing the same run)

// Writer w records runs w * (kRunsPerWriter - kShared) ... + kRunsPerWriter - 1: the first kShared of
// writer 1 are the last kShared of writer 0.
// `ready` returns when every writer has opened the database.
void write_runs(const std::string& path, int writer, const std::function<void()>& ready) {
  ResultsDb db = ResultsDb::open(path);
  ready();
  for (int i = 0; i < kRunsPerWriter; ++i) {
    const int n = writer * (kRunsPerWriter - kShared) + i;
    db.record_run(make_run({.vocab_size = 16 + n, .epochs = 5}));
  }
}

void expect_every_run_once(const std::string& path) {
  RawDb raw(path);
  const int64_t expected = 2 * kRunsPerWriter - kShared;
  EXPECT_EQ(raw.count("runs"), expected);
  EXPECT_EQ(raw.count("run_metrics"), expected);
  EXPECT_EQ(raw.count("run_epochs"), 5 * expected);
  EXPECT_EQ(raw.count("task_settings"), expected);
  EXPECT_EQ(raw.count("architectures"), 1);
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
}

TEST(Concurrency, TwoThreadsWithTheirOwnConnectionsLoseNothing) {
  TempDir dir("concurrent_threads");
  const std::string path = dir.file("r.db");
  std::latch opened(2);
  std::string errors[2];
  const auto writer = [&](int w) {
    bool arrived = false;
    try {
      write_runs(path, w, [&] {
        arrived = true;
        opened.arrive_and_wait();
      });
    } catch (const std::exception& e) {
      errors[w] = e.what();
      if (!arrived) opened.count_down();  // never leave the other writer waiting
    }
  };
  std::thread a(writer, 0), b(writer, 1);
  a.join();
  b.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  expect_every_run_once(path);
}

TEST(Concurrency, TwoProcessesLoseNothing) {
  TempDir dir("concurrent_processes");
  const std::string path = dir.file("r.db");
  // The children start writing when the parent closes the pipe (a read then returns end of file).
  int start[2];
  ASSERT_EQ(::pipe(start), 0);
  pid_t children[2];
  for (int w = 0; w < 2; ++w) {
    children[w] = ::fork();
    ASSERT_GE(children[w], 0);
    if (children[w] == 0) {
      ::close(start[1]);
      int code = 0;
      try {
        write_runs(path, w, [&] {
          char c;
          while (::read(start[0], &c, 1) > 0) {
          }
        });
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", w, e.what());
        code = 1;
      }
      ::_exit(code);
    }
  }
  ::close(start[0]);
  ::close(start[1]);
  for (pid_t child : children) {
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  expect_every_run_once(path);
}

}  // namespace
}  // namespace mad::results
