#pragma once
// SHA-256 (FIPS 180-4) for content digests: reference-array checks and run hashes.
#include <cstddef>
#include <cstdint>
#include <string>

namespace ctb {

/// Incremental SHA-256, for hashing data that arrives in pieces.
class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  /// Finishes the digest and returns it as 64 lowercase hex digits; the object is then reset.
  std::string hex_digest();

 private:
  void compress(const unsigned char* block);
  uint32_t h_[8];
  unsigned char block_[64];
  size_t block_len_ = 0;
  uint64_t total_len_ = 0;  // bytes
};

/// SHA-256 of `n` bytes as 64 lowercase hex digits.
std::string sha256_hex(const void* data, size_t n);

}  // namespace ctb
