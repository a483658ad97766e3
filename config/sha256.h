// SHA-256 (FIPS 180-4), for configuration and run hashes. Written here rather than pulled in as a
// dependency: it is 100 lines and checked against the standard test vectors.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mad::config {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view bytes);
  // The digest of everything passed to update(); the object must not be updated afterwards.
  std::array<uint8_t, 32> finish();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// SHA-256 of `bytes` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

}  // namespace mad::config
