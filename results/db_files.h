// Facts about a database's files on disk, read before choosing how to open it and when naming the cause
// of an SQLite error. SQLite's own messages ("unable to open database file", "disk I/O error") say what
// failed, not why; these say why: a missing or read-only directory, a read-only mount, a full disk.
#pragma once

#include <string>

namespace mad::results {

// The directory that holds `path` ("." for a bare file name).
std::string directory_of(const std::string& path);

// Whether FILE-wal exists with content: writes that are not in the database file yet (a writer is
// running, or one was killed), which a reader that cannot use FILE-shm would miss.
bool has_pending_wal(const std::string& path);

// Why files cannot be created or written next to `path`, as a clause ("the directory D is on a read-only
// mount"), or "" when nothing is in the way.
std::string write_obstacle(const std::string& path);

// The one-line description of an OS error number from SQLite (sqlite3_system_errno) as the cause of a
// failure, with its fix ("the disk is full (No space left on device); free disk space ..."), or "" for an
// errno that has no advice of its own.
std::string os_error_cause(int os_errno, const std::string& path);

}  // namespace mad::results
