// Files written atomically: the bytes go to a temporary file beside the target, are flushed to disk, and
// the temporary is renamed over the target. A reader (or a rerun after a crash, a kill or a full disk)
// sees the old file or the whole new one, never a truncated one, and no temporary is left behind on an
// error: the destructor removes it unless commit() succeeded. Errors are one line naming the file and
// the operating system's reason ("No space left on device").
//
// Here in config/ because every library that writes files (training, tasks, results) depends on it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace mad::config {

class AtomicFile {
 public:
  // Creates `path`.tmp.<pid> (the pid keeps concurrent writers of the same target apart).
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // fsync, close and rename over the target. Throws mad::Error naming the cause; the target is unchanged then.
  void commit();

 private:
  std::filesystem::path path_, temporary_;
  int fd_ = -1;
};

// The whole of `content` into `path`, atomically.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace mad::config
