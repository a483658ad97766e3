#include "config/atomic_file.h"
#include "tasks/npy.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace mad::tasks {

namespace {

static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian machine");

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

// The header is a Python dict literal, e.g. {'descr': '<i8', 'fortran_order': False, 'shape': (3, 4), }.
// This reads the three keys numpy writes; `error` reports a malformed header.
struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::filesystem::path& path) : text_(text), path_(path) {
    // numpy pads the header with spaces and ends it with a newline; neither belongs in messages.
    while (!text_.empty() && (text_.back() == ' ' || text_.back() == '\n')) text_.remove_suffix(1);
  }

  Header parse() {
    Header header;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (!accept('}')) {
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        header.descr = quoted();
        has_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        has_order = true;
      } else if (key == "shape") {
        header.shape = tuple();
        has_shape = true;
      } else {
        error(fmt::format("unexpected key '{}'", key));
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    if (!has_descr || !has_order || !has_shape) error("missing 'descr', 'fortran_order' or 'shape'");
    return header;
  }

 private:
  [[noreturn]] void error(std::string_view what) const {
    fail(fmt::format("{}: corrupt .npy header ({}): {}", path_.string(), what, text_));
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n')) ++pos_;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) error(fmt::format("expected '{}'", c));
  }
  std::string quoted() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) error("expected a string");
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) error("unterminated string");
    std::string out(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      if (text_.substr(pos_, std::strlen(word)) == word) {
        pos_ += std::strlen(word);
        return value;
      }
    }
    error("expected True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (!accept(')')) {
      skip_space();
      int64_t dim = 0;
      size_t digits = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9' && digits < 18) {
        dim = dim * 10 + (text_[pos_++] - '0');
        ++digits;
      }
      if (digits == 0) error("expected a dimension");
      dims.push_back(dim);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return dims;
  }

  std::string_view text_;
  const std::filesystem::path& path_;
  size_t pos_ = 0;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  return shape.size() == 1 ? fmt::format("({},)", shape[0]) : fmt::format("({})", fmt::join(shape, ", "));
}

uint32_t little_endian(const unsigned char* bytes, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | bytes[i];
  return v;
}

}  // namespace

TokenMatrix read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  MAD_CHECK(in, "cannot open '{}': {}", path.string(), std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);

  unsigned char preamble[12] = {};
  in.read(reinterpret_cast<char*>(preamble), 10);
  MAD_CHECK(in && std::memcmp(preamble, kMagic, kMagicSize) == 0,
            "{}: not a .npy file (no \\x93NUMPY magic at the start)", path.string());
  const int major = preamble[6];
  MAD_CHECK(major >= 1 && major <= 3, "{}: unsupported .npy format version {}.{} (expected 1.0 to 3.0)",
            path.string(), major, int{preamble[7]});
  // Version 1 stores the header length in 2 bytes, versions 2 and 3 in 4.
  uint64_t header_length = little_endian(preamble + 8, 2);
  uint64_t data_offset = 10;
  if (major >= 2) {
    in.read(reinterpret_cast<char*>(preamble + 10), 2);
    header_length = little_endian(preamble + 8, 4);
    data_offset = 12;
  }
  MAD_CHECK(in && data_offset + header_length <= file_size, "{}: truncated .npy header", path.string());
  std::string header_text(header_length, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_length));
  data_offset += header_length;
  const Header header = HeaderParser(header_text, path).parse();

  size_t item_size = 0;
  if (header.descr == "<i8") item_size = 8;
  if (header.descr == "<i4") item_size = 4;
  MAD_CHECK(item_size != 0,
            "{}: unsupported dtype '{}'; token files must hold int64 ('<i8') or int32 ('<i4') little-endian "
            "integers",
            path.string(), header.descr);
  MAD_CHECK(!header.fortran_order,
            "{}: Fortran-order array; save it in C order (numpy.ascontiguousarray) before reading", path.string());
  MAD_CHECK(header.shape.size() == 2, "{}: expected a 2-D array [sequences, length], got shape {}", path.string(),
            shape_text(header.shape));

  // Check the size before allocating: a corrupt shape must not become a huge allocation.
  const auto elements = static_cast<unsigned __int128>(header.shape[0]) * static_cast<uint64_t>(header.shape[1]);
  const unsigned __int128 expected_wide = elements * item_size;
  const uint64_t data_bytes = file_size - data_offset;
  MAD_CHECK(expected_wide <= data_bytes, "{}: truncated: shape {} of {} needs {} bytes of data, the file has {}",
            path.string(), shape_text(header.shape), header.descr,
            expected_wide > UINT64_MAX ? std::string("more than 2^64") : std::to_string(static_cast<uint64_t>(expected_wide)),
            data_bytes);
  const auto expected_bytes = static_cast<uint64_t>(expected_wide);
  TokenMatrix matrix(header.shape[0], header.shape[1]);
  MAD_CHECK(data_bytes == expected_bytes, "{}: corrupt: {} unexpected bytes after the {} data of shape {}",
            path.string(), data_bytes - expected_bytes, header.descr, shape_text(header.shape));

  if (item_size == 4) {
    in.read(reinterpret_cast<char*>(matrix.data.data()), static_cast<std::streamsize>(expected_bytes));
  } else {
    std::vector<int64_t> wide(matrix.data.size());
    in.read(reinterpret_cast<char*>(wide.data()), static_cast<std::streamsize>(expected_bytes));
    for (size_t i = 0; i < wide.size(); ++i) {
      MAD_CHECK(wide[i] >= INT32_MIN && wide[i] <= INT32_MAX,
                "{}: value {} at row {}, position {} is not a token id (outside the int32 range)", path.string(),
                wide[i], i / static_cast<size_t>(matrix.cols), i % static_cast<size_t>(matrix.cols));
      matrix.data[i] = static_cast<int32_t>(wide[i]);
    }
  }
  MAD_CHECK(in, "{}: read error", path.string());
  return matrix;
}

void write_npy(const std::filesystem::path& path, const TokenMatrix& matrix) {
  std::string header = fmt::format("{{'descr': '<i8', 'fortran_order': False, 'shape': ({}, {}), }}",
                                    matrix.rows, matrix.cols);
  // numpy pads the header with spaces and a final newline so that the data starts 64-byte aligned.
  const size_t unpadded = kMagicSize + 4 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';

  // Atomic (config/atomic_file.h): a full disk leaves no truncated .npy behind.
  config::AtomicFile out(path);
  out.write(kMagic, kMagicSize);
  const unsigned char version_and_length[4] = {1, 0, static_cast<unsigned char>(header.size() & 0xFF),
                                               static_cast<unsigned char>(header.size() >> 8)};
  out.write(version_and_length, 4);
  out.write(header);
  // Widen to int64 in blocks to keep memory flat for large datasets.
  constexpr size_t kBlock = size_t{1} << 16;
  std::vector<int64_t> wide;
  for (size_t start = 0; start < matrix.data.size(); start += kBlock) {
    const size_t n = std::min(kBlock, matrix.data.size() - start);
    wide.assign(matrix.data.begin() + static_cast<std::ptrdiff_t>(start),
                matrix.data.begin() + static_cast<std::ptrdiff_t>(start + n));
    out.write(wide.data(), n * sizeof(int64_t));
  }
  out.commit();
}

}  // namespace mad::tasks
