#include "config/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace mad::config {

AtomicFile::AtomicFile(std::filesystem::path path)
    : path_(std::move(path)), temporary_(path_.string() + ".tmp." + std::to_string(::getpid())) {
  fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  MAD_CHECK(fd_ >= 0, "cannot write '{}': {}; check that the directory exists and is writable", path_.string(),
            std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temporary_.empty()) ::unlink(temporary_.c_str());  // not committed: leave nothing half-written
}

void AtomicFile::write(const void* data, size_t bytes) {
  MAD_CHECK(fd_ >= 0, "AtomicFile: write to '{}' after commit", path_.string());
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    MAD_CHECK(n > 0, "cannot write '{}': {}; free some space or write elsewhere", path_.string(),
              n < 0 ? std::strerror(errno) : "nothing written");
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  MAD_CHECK(fd_ >= 0, "AtomicFile: '{}' committed twice", path_.string());
  // A full disk often shows only here, when the file system allocates the delayed blocks.
  MAD_CHECK(::fsync(fd_) == 0, "cannot write '{}': {}; free some space or write elsewhere", path_.string(),
            std::strerror(errno));
  const int closed = ::close(fd_);
  fd_ = -1;
  MAD_CHECK(closed == 0, "cannot write '{}': {}; free some space or write elsewhere", path_.string(), std::strerror(errno));
  MAD_CHECK(::rename(temporary_.c_str(), path_.c_str()) == 0, "cannot replace '{}': {}", path_.string(),
            std::strerror(errno));
  temporary_.clear();
}

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  AtomicFile file(path);
  file.write(content);
  file.commit();
}

}  // namespace mad::config
