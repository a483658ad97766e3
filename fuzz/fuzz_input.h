// What every fuzz target shares: the fuzz input as a file (the readers under test take paths, as the
// commands do), and the rule for what counts as a finding.
//
// A rejected input is a thrown std::exception (the command prints its what() as one line and exits 1);
// a finding is anything else: a sanitizer report (out-of-bounds, overflow, undefined behaviour), a crash,
// an allocation beyond libFuzzer's -malloc_limit_mb, or a run beyond its -timeout.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace mad::fuzz {

// The fuzz input as a file, removed (with SQLite's FILE-wal, FILE-shm and FILE-journal) when the object
// goes: libFuzzer ends with _Exit, so nothing may wait for the process's exit to clean up. In /dev/shm
// where it exists (no disk writes at thousands of inputs a second), else the temporary directory; the
// pid in the name keeps parallel fuzzers apart.
class InputFile {
 public:
  InputFile(const uint8_t* data, size_t size, const std::string& name) {
    std::error_code error;
    const std::filesystem::path dir = std::filesystem::is_directory("/dev/shm", error)
                                          ? std::filesystem::path("/dev/shm")
                                          : std::filesystem::temp_directory_path();
    path_ = (dir / ("mad_fuzz_" + std::to_string(::getpid()) + "_" + name)).string();
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) {
      std::fprintf(stderr, "fuzz: cannot write %s\n", path_.c_str());
      std::abort();
    }
  }
  ~InputFile() {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path_ + suffix, ignored);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `body` on one input: a thrown std::exception is a rejected input, nothing more.
template <class Body>
int rejecting(Body&& body) {
  try {
    body();
  } catch (const std::exception&) {
  }
  return 0;
}

}  // namespace mad::fuzz
