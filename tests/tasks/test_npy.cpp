// .npy reading and writing: round trip, files written by numpy itself, and every kind of bad file.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tasks/npy.h"
#include "test_util.h"

namespace mad::tasks {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::TempDir;

TokenMatrix example() {
  TokenMatrix m(3, 4);
  for (int32_t i = 0; i < 12; ++i) m.data[static_cast<size_t>(i)] = i;
  return m;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

bool numpy_available() { return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0; }

TEST(Npy, RoundTrip) {
  TempDir dir("npy_round_trip");
  TokenMatrix m(5, 7);
  for (size_t i = 0; i < m.data.size(); ++i) m.data[i] = static_cast<int32_t>(i * 37 % 101) - 50;
  m.data[3] = kIgnoreIndex;
  m.data[4] = INT32_MAX;
  m.data[5] = INT32_MIN;
  write_npy(dir.path() / "m.npy", m);
  EXPECT_EQ(read_npy(dir.path() / "m.npy"), m);

  // The layout numpy writes: version 1.0, '<i8', the data 64-byte aligned.
  const std::string bytes = read_bytes(dir.path() / "m.npy");
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(bytes.find("{'descr': '<i8', 'fortran_order': False, 'shape': (5, 7), }"), std::string::npos);
  EXPECT_EQ((bytes.size() - 5 * 7 * 8) % 64, 0u);
  EXPECT_EQ(bytes.size(), 128u + 5 * 7 * 8);

  const TokenMatrix empty(0, 3);
  write_npy(dir.path() / "empty.npy", empty);
  EXPECT_EQ(read_npy(dir.path() / "empty.npy"), empty);
}

// numpy reads what we write, value for value.
TEST(Npy, NumpyReadsOurFiles) {
  if (!numpy_available()) GTEST_SKIP() << "Debian's /usr/bin/python3 has no numpy";
  TempDir dir("npy_numpy_reads");
  write_npy(dir.path() / "ours.npy", example());
  const std::string command = "/usr/bin/python3 -c \"import numpy as np; a = np.load('" +
                              (dir.path() / "ours.npy").string() +
                              "'); assert a.dtype == np.int64 and a.shape == (3, 4) and "
                              "(a == np.arange(12).reshape(3, 4)).all()\"";
  EXPECT_EQ(std::system(command.c_str()), 0);
}

// Reads the files of make_npy_fixtures.py from `dir` and checks each one's outcome.
void check_numpy_files(const fs::path& dir) {
  EXPECT_EQ(read_npy(dir / "int64.npy"), example());
  EXPECT_EQ(read_npy(dir / "int32.npy"), example());
  EXPECT_EQ(read_npy(dir / "int64_v2.npy"), example());
  EXPECT_EQ(read_npy(dir / "empty_rows.npy"), TokenMatrix(0, 4));
  const auto expect_error = [&](const char* file, const std::string& message) {
    const fs::path path = dir / file;
    EXPECT_EQ(error_of([&] { read_npy(path); }), path.string() + ": " + message) << file;
  };
  for (const auto& [file, dtype] : {std::pair{"float32.npy", "<f4"}, {"int16.npy", "<i2"}, {"uint64.npy", "<u8"},
                                    {"bigendian.npy", ">i8"}}) {
    expect_error(file, fmt::format("unsupported dtype '{}'; token files must hold int64 ('<i8') or int32 ('<i4') "
                                   "little-endian integers", dtype));
  }
  expect_error("fortran.npy", "Fortran-order array; save it in C order (numpy.ascontiguousarray) before reading");
  expect_error("one_dim.npy", "expected a 2-D array [sequences, length], got shape (5,)");
  expect_error("three_dim.npy", "expected a 2-D array [sequences, length], got shape (2, 2, 3)");
  expect_error("too_large.npy", "value 1099511627776 at row 0, position 1 is not a token id (outside the int32 range)");
}

TEST(Npy, ReadsCommittedNumpyFiles) { check_numpy_files(testing::fixtures_dir() / "npy"); }

TEST(Npy, ReadsFilesFreshlyWrittenByNumpy) {
  if (!numpy_available()) GTEST_SKIP() << "Debian's /usr/bin/python3 has no numpy; the committed copies are tested";
  TempDir dir("npy_fresh");
  const std::string command = "/usr/bin/python3 " + (testing::fixtures_dir() / "make_npy_fixtures.py").string() +
                              " " + dir.path().string();
  ASSERT_EQ(std::system(command.c_str()), 0);
  check_numpy_files(dir.path());
}

TEST(Npy, TruncatedAndCorruptFiles) {
  TempDir dir("npy_bad");
  const fs::path good = dir.path() / "good.npy";
  write_npy(good, example());
  const std::string bytes = read_bytes(good);
  const auto error_for = [&](const std::string& content) {
    const fs::path path = dir.path() / "bad.npy";
    write_bytes(path, content);
    const std::string message = error_of([&] { read_npy(path); });
    EXPECT_EQ(message.rfind(path.string() + ": ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message.substr(path.string().size() + 2);
  };
  EXPECT_EQ(error_for(bytes.substr(0, bytes.size() - 8)),
            "truncated: shape (3, 4) of <i8 needs 96 bytes of data, the file has 88");
  EXPECT_EQ(error_for(bytes.substr(0, 60)), "truncated .npy header");
  EXPECT_EQ(error_for(bytes + "xx"), "corrupt: 2 unexpected bytes after the <i8 data of shape (3, 4)");
  EXPECT_EQ(error_for("PK\x03\x04 this is a zip file"), "not a .npy file (no \\x93NUMPY magic at the start)");
  EXPECT_EQ(error_for(""), "not a .npy file (no \\x93NUMPY magic at the start)");
  std::string version = bytes;
  version[6] = 9;
  EXPECT_EQ(error_for(version), "unsupported .npy format version 9.0 (expected 1.0 to 3.0)");
  std::string header = bytes;
  header.replace(header.find("'shape'"), 7, "'shapf'");
  EXPECT_EQ(error_for(header).substr(0, 40), "corrupt .npy header (unexpected key 'sha");
  std::string huge = bytes;
  huge.replace(huge.find("(3, 4)"), 6, "(999999999999, 9)");
  EXPECT_NE(error_for(huge).find("truncated: shape (999999999999, 9)"), std::string::npos);
  EXPECT_EQ(error_of([&] { read_npy(dir.path() / "missing.npy"); }),
            "cannot open '" + (dir.path() / "missing.npy").string() + "': No such file or directory");
}

}  // namespace
}  // namespace mad::tasks
