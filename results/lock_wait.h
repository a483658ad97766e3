// How a results-database connection waits for the write lock while another connection holds it.
//
// Every connection waits up to the busy timeout (5 s, docs/results-schema.md) and then fails with a
// one-line error naming the lock. After a second of waiting it says so on stderr, once: "waiting for the
// database lock (held by another process)...", so that a `sqlite3` shell left in a transaction does not
// look like a hung sweep. A sweep's runner and workers wait on past the timeout (keep_waiting): a trained
// run stays in memory until it is recorded, instead of being recorded failed and trained again.
#pragma once

#include <functional>

namespace mad::results {

struct LockWait {
  static constexpr int kDefaultTimeoutMs = 5000;
  int timeout_ms = kDefaultTimeoutMs;
  // Asked, when set, instead of failing once timeout_ms have passed: true waits on, false gives up (e.g.
  // after Ctrl-C). Called between sleeps of at most 100 ms.
  std::function<bool()> keep_waiting = {};
};

}  // namespace mad::results
