#include "results/db_files.h"

#include <fmt/format.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mad::results {

namespace fs = std::filesystem;

std::string directory_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

namespace {

bool on_read_only_mount(const std::string& directory) {
  struct statvfs info = {};
  return ::statvfs(directory.c_str(), &info) == 0 && (info.f_flag & ST_RDONLY) != 0;
}

}  // namespace

bool has_pending_wal(const std::string& path) {
  std::error_code error;
  const auto size = fs::file_size(path + "-wal", error);
  return !error && size > 0;
}

std::string write_obstacle(const std::string& path) {
  const std::string directory = directory_of(path);
  std::error_code error;
  if (!fs::is_directory(directory, error)) return fmt::format("the directory {} does not exist", directory);
  // access() answers for this process (root may write where the permission bits say no), but not for a
  // read-only mount, where even root cannot write: statvfs says that.
  if (on_read_only_mount(directory)) return fmt::format("the directory {} is on a read-only mount", directory);
  if (::access(directory.c_str(), W_OK) != 0) return fmt::format("the directory {} is not writable", directory);
  return "";
}

std::string os_error_cause(int os_errno, const std::string& path) {
  switch (os_errno) {
    case ENOSPC:
    case EDQUOT:
      return fmt::format("the file system of {} is full ({}); free disk space and run again", directory_of(path),
                         std::strerror(os_errno));
    case EROFS:
      return fmt::format("{} is on a read-only mount; copy the database somewhere writable", directory_of(path));
    case EACCES:
    case EPERM:
      return fmt::format("permission denied ({}); make the file and its directory accessible", std::strerror(os_errno));
    default: return "";
  }
}

}  // namespace mad::results
