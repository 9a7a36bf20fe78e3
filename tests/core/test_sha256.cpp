#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/sha256.hpp"

namespace ctb {
namespace {

// Vectors from FIPS 180-4's examples (NIST CSRC "SHA256.pdf", "SHA2_Additional.pdf").
TEST(Sha256, Empty) {
  EXPECT_EQ(sha256_hex(nullptr, 0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, Abc) {
  EXPECT_EQ(sha256_hex("abc", 3),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, TwoBlockMessage) {
  const std::string msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(msg.data(), msg.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, MillionA) {
  const std::string msg(1000000, 'a');
  EXPECT_EQ(sha256_hex(msg.data(), msg.size()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Padding boundaries: lengths 55, 56, 63, 64 and 65 exercise the one- and two-block finals.
// Expected digests from Python's hashlib.sha256(b"a" * n).
TEST(Sha256, PaddingBoundaries) {
  const struct {
    size_t n;
    const char* digest;
  } cases[] = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
  };
  for (const auto& c : cases) {
    const std::string msg(c.n, 'a');
    EXPECT_EQ(sha256_hex(msg.data(), msg.size()), c.digest) << "length " << c.n;
  }
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::vector<unsigned char> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 7 + 3);
  const std::string whole = sha256_hex(data.data(), data.size());
  // Uneven pieces cross block boundaries in every way.
  for (size_t piece : {1u, 3u, 63u, 64u, 65u, 200u}) {
    Sha256 hasher;
    for (size_t off = 0; off < data.size(); off += piece) {
      hasher.update(data.data() + off, std::min(piece, data.size() - off));
    }
    EXPECT_EQ(hasher.hex_digest(), whole) << "piece " << piece;
  }
}

TEST(Sha256, HexDigestResets) {
  Sha256 hasher;
  hasher.update("abc", 3);
  (void)hasher.hex_digest();
  EXPECT_EQ(hasher.hex_digest(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace ctb
