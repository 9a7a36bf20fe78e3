// Test vectors from ../shared/spec/numpy-rng.md section 9 (recorded against numpy 1.24.2), plus
// edge cases whose expected values were transcribed from the spec's executable reference
// (numpy_rng_reference.py), which the spec documents as bit-exact with numpy.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/sha256.hpp"
#include "data/numpy_rng.hpp"
#include "data/ziggurat_tables.hpp"

namespace ctb {
namespace {

template <typename T>
std::string digest(const std::vector<T>& v) {
  return sha256_hex(v.data(), v.size() * sizeof(T));
}

NumpyRng::Uint128 u128(uint64_t hi, uint64_t lo) {
  return (static_cast<NumpyRng::Uint128>(hi) << 64) | lo;
}

uint64_t bits(double x) { return std::bit_cast<uint64_t>(x); }

void expect_first_bits(const std::vector<double>& values, const std::vector<uint64_t>& expected) {
  ASSERT_GE(values.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(bits(values[i]), expected[i]) << "element " << i << " = " << values[i];
  }
}

// --- seeding -----------------------------------------------------------------------------------

TEST(NumpyRngSeeding, Seed42PoolStateAndFirstDraws) {
  EXPECT_EQ(NumpyRng::seed_sequence_pool(42),
            (std::array<uint32_t, 4>{0x631d3606, 0x07ae90ae, 0x6fc4be28, 0x2ced5c75}));
  EXPECT_EQ(NumpyRng::seed_sequence_state(42),
            (std::array<uint64_t, 4>{0x9f1e2e6dcd540ab7, 0xd57873dc79fb94b6, 0x7d282a1b64d420b7,
                                     0x336579714692d5ff}));
  NumpyRng rng(42);
  EXPECT_TRUE(rng.state() == u128(0xcea44f6798798f2a, 0xacbc7c9d68860ac8));
  EXPECT_TRUE(rng.increment() == u128(0xfa505436c9a8416e, 0x66caf2e28d25abff));
  EXPECT_EQ(rng.next64(), 0xc621fbcd16d92688u);
  EXPECT_EQ(rng.next64(), 0x705a5661a791ffc1u);
  EXPECT_EQ(rng.next64(), 0xdbcd12c26eda1624u);
  EXPECT_EQ(NumpyRng(42).next_double(), 0.7739560485559633);
}

TEST(NumpyRngSeeding, Seed0PoolStateAndFirstDraws) {
  EXPECT_EQ(NumpyRng::seed_sequence_pool(0),
            (std::array<uint32_t, 4>{0xfe40eb07, 0x4f363a36, 0x4eb2009d, 0xc89a7aa7}));
  NumpyRng rng(0);
  EXPECT_TRUE(rng.state() == u128(0x1aa1b5345996452d, 0x09585eb7a69561e3));
  EXPECT_TRUE(rng.increment() == u128(0x418ddadb3af71a82, 0x588133bc447873a9));
  EXPECT_EQ(rng.next64(), 0xa30febcfd9c2825fu);
  EXPECT_EQ(rng.next64(), 0x4510bdf882d9d721u);
  EXPECT_EQ(rng.next64(), 0x0a7d3da94ecde8b8u);
}

// Seeds of two u32 words (least significant first) and the largest u64 seed.
TEST(NumpyRngSeeding, MultiWordSeeds) {
  EXPECT_EQ(NumpyRng::seed_sequence_pool((uint64_t{1} << 32) + 5),
            (std::array<uint32_t, 4>{1943228144u, 3666975122u, 1548130432u, 663351627u}));
  EXPECT_EQ(NumpyRng((uint64_t{1} << 32) + 5).next64(), 0xc6323ec321deb8d1u);
  EXPECT_EQ(NumpyRng::seed_sequence_pool(~uint64_t{0}),
            (std::array<uint32_t, 4>{0xfaf3ecf4, 0xfa0f8930, 0xe9f89a67, 0x0e23d1f9}));
  EXPECT_EQ(NumpyRng(~uint64_t{0}).next64(), 0xae163a7a8c47568fu);
}

// 32-bit draws are the halves of one 64-bit output, low first, and a 64-bit draw in between
// leaves the buffered half in place.
TEST(NumpyRngSeeding, Next32BufferSurvives64BitDraws) {
  NumpyRng plain(3);
  EXPECT_EQ(plain.next64(), 0x15ed1a93cfbec2f8u);
  EXPECT_EQ(plain.next64(), 0x3c9f9d052defd3f5u);
  EXPECT_EQ(plain.next64(), 0xcd2052c72e6dec36u);
  NumpyRng mixed(3);
  EXPECT_EQ(mixed.next32(), 0xcfbec2f8u);
  EXPECT_EQ(mixed.next64(), 0x3c9f9d052defd3f5u);
  EXPECT_EQ(mixed.next32(), 0x15ed1a93u);
  EXPECT_EQ(mixed.next32(), 0x2e6dec36u);
}

// --- ziggurat tables ---------------------------------------------------------------------------

TEST(NumpyRngZiggurat, TableAnchorsAndDigest) {
  using namespace ziggurat;
  EXPECT_EQ(kZigKi[0], 0xef33d8025ef6au);
  EXPECT_EQ(kZigKi[1], 0u);
  EXPECT_EQ(kZigWi[0], 0x1.f493b7815d979p-51);
  EXPECT_EQ(kZigWi[255], 0x1.d3bb48209ad33p-51);
  EXPECT_EQ(kZigFi[255], 0x1.4a605b6b9f70fp-10);
  EXPECT_EQ(kZigFi[0], 1.0);
  EXPECT_EQ(kZigR, 0x1.d3bb48209ad33p+1);
  EXPECT_EQ(kZigInvR, 0x1.183aa6c20e8c1p-2);
  Sha256 hasher;
  hasher.update(kZigKi, sizeof kZigKi);
  hasher.update(kZigWi, sizeof kZigWi);
  hasher.update(kZigFi, sizeof kZigFi);
  EXPECT_EQ(hasher.hex_digest(),
            "d46841a090f638a74c6bd112345fe681089be798d725b251129f062cad5521a3");
}

TEST(NumpyRngZiggurat, FirstNormalOfSeed42Trace) {
  const uint64_t raw = NumpyRng(42).next64();
  ASSERT_EQ(raw, 0xc621fbcd16d92688u);
  const unsigned idx = raw & 0xFF;
  const uint64_t rabs = (raw >> 9) & 0x000FFFFFFFFFFFFFu;
  EXPECT_EQ(idx, 136u);
  EXPECT_EQ((raw >> 8) & 1, 0u);
  EXPECT_EQ(rabs, 0x310fde68b6c93u);
  EXPECT_EQ(ziggurat::kZigKi[136], 0xfee47ee2982f4u);
  NumpyRng rng(42);
  const double z = rng.standard_normal();
  EXPECT_EQ(z, static_cast<double>(rabs) * ziggurat::kZigWi[136]);
  EXPECT_EQ(z, 0.30471707975443135);
  EXPECT_EQ(bits(z), 0x3fd3807c1104fc6bu);
}

// --- whole streams (section 9 tables) ----------------------------------------------------------

TEST(NumpyRngStreams, NormalSeed42Gold) {
  const std::vector<double> v = NumpyRng(42).normal(0.0, 1.0, 32768 * 3);
  expect_first_bits(v, {0x3fd3807c1104fc6b, 0xbff0a3c65fca9a7e, 0x3fe803b239e77350,
                        0x3fee191b2d157f36, 0xbfff3770ac89d08f});
  EXPECT_EQ(digest(v), "4f850931a795f1535af035a26255fbf47836f4fe4654e655d6cd007c37139cd9");
}

TEST(NumpyRngStreams, NormalSeed1) {
  const std::vector<double> v = NumpyRng(1).normal(0.0, 1.0, 512 * 8);
  expect_first_bits(v, {0x3fd61e0d28bbb3a1, 0x3fea4ab22204681f, 0x3fd525e18ce5fc0a,
                        0xbff4d9bb65b49607, 0x3fecf8acddd349f3});
  EXPECT_EQ(digest(v), "699597ea57c2fae253cad08f6821167f37de6449abfc1f4a57f7e21aad0959bc");
}

TEST(NumpyRngStreams, NormalSeed0) {
  const std::vector<double> v = NumpyRng(0).normal(0.0, 1.0, 8192 * 8);
  expect_first_bits(v, {0x3fc017ed89db8441, 0xbfc0e8cfe9bd45cc, 0x3fe47e57a468b06d,
                        0x3fbadabbec84d4f0, 0xbfe1243418e643ed});
  EXPECT_EQ(digest(v), "5b8b5219c257bee35209a8e72098dc8dea8fbdbe374bf31137291a9e7178c456");
}

TEST(NumpyRngStreams, UniformSeed7) {
  const std::vector<double> v = NumpyRng(7).uniform(-2.5, 4.0, 1000);
  expect_first_bits(v, {0x3ff9028aad0a4524, 0x400aa7b5ca5393ce, 0x400455ed8b6a123a,
                        0xbff0941572314ce3, 0xbfe190bee3a47310});
  EXPECT_EQ(digest(v), "8ac6b6227587a23698293d49940e37f1e5245938250dfb9e1dadfd4f40432fb4");
}

TEST(NumpyRngStreams, IntegersSeed43) {
  NumpyRng probe(43);
  EXPECT_EQ(probe.next32(), 0x815ce843u);
  const std::vector<int64_t> v = NumpyRng(43).integers(0, 32768, 1024);
  EXPECT_EQ(std::vector<int64_t>(v.begin(), v.begin() + 5),
            (std::vector<int64_t>{16558, 21374, 13150, 1434, 18912}));
  EXPECT_EQ(digest(v), "b717b3faf26351f53487f22084480adde065cc43565ca2aa867eec8459cfcf48");
  EXPECT_EQ(digest(NumpyRng(43).integers(0, 4096, 256)),
            "ffbe61cbc072ab0f2a8fa5b1b391afe0cd612de527724a9b6eb1abb1836d79ce");
}

TEST(NumpyRngStreams, IntegersConsumeHalfOutputsWhenNothingIsRejected) {
  // n = 2^15 divides 2^32: 1024 values use exactly 512 64-bit outputs.
  NumpyRng a(43);
  (void)a.integers(0, 32768, 1024);
  NumpyRng b(43);
  for (int i = 0; i < 512; ++i) (void)b.next64();
  EXPECT_EQ(a.next64(), b.next64());
}

TEST(NumpyRngStreams, ChoiceSeed0Floyd) {
  const std::vector<int64_t> unsorted = NumpyRng(0).choice_without_replacement(32768, 512);
  EXPECT_EQ(std::vector<int64_t>(unsorted.begin(), unsorted.begin() + 5),
            (std::vector<int64_t>{88, 11827, 23269, 17150, 28074}));
  EXPECT_EQ(digest(unsorted), "aafd2f71f88d5786c25eed3fbbdb215a708760e37a79330e60b0115a804670d3");
  std::vector<int64_t> sorted = unsorted;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::vector<int64_t>(sorted.begin(), sorted.begin() + 5),
            (std::vector<int64_t>{88, 172, 175, 209, 261}));
  EXPECT_EQ(digest(sorted), "f263b7598425f03a1722193b7f6fd5330604a1d443ec5077409b618a19850304");
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "duplicates";

  std::vector<int64_t> small = NumpyRng(0).choice_without_replacement(4096, 64);
  std::sort(small.begin(), small.end());
  EXPECT_EQ(digest(small), "d1ea034a1c5c1d6445739d91e3cfa25f31a6a0dc28536f20fdeeabf61c0a9c09");
}

TEST(NumpyRngStreams, ChoiceTailShuffle) {
  const std::vector<int64_t> v = NumpyRng(5).choice_without_replacement(100000, 20000);
  EXPECT_EQ(v.size(), 20000u);
  EXPECT_EQ(digest(v), "6a4974c0d3b4e839848d2992ba33fb15d47f0d17e85aceb94dda5f0adcfe3c38");
}

TEST(NumpyRngStreams, ChoiceWholePopulation) {
  // From the reference: default_rng(0).choice(10, 10, replace=False).
  EXPECT_EQ(NumpyRng(0).choice_without_replacement(10, 10),
            (std::vector<int64_t>{0, 9, 1, 2, 4, 6, 3, 7, 5, 8}));
  EXPECT_TRUE(NumpyRng(0).choice_without_replacement(10, 0).empty());
}

// --- integer range edge cases (values from numpy_rng_reference.py) -----------------------------

TEST(NumpyRngIntegers, RangeEdgeCases) {
  // rng = 2^64 - 2: 64-bit Lemire.
  EXPECT_EQ(NumpyRng(9).integers(INT64_MIN, INT64_MAX, 4),
            (std::vector<int64_t>{6829892309130839840, -3932528384880999393, 1902747525677753277,
                                  5119600199360223991}));
  // rng = 2^32 - 1: plain next32.
  EXPECT_EQ(NumpyRng(9).integers(0, int64_t{1} << 32, 4),
            (std::vector<int64_t>{1810532129, 3737691870, 4127654944, 1231870532}));
  EXPECT_EQ(NumpyRng(9).integers(-1000, -10, 4), (std::vector<int64_t>{-583, -139, -49, -717}));
  EXPECT_EQ(NumpyRng(9).integers(-(int64_t{1} << 40), int64_t{1} << 41, 4),
            (std::vector<int64_t>{1771035728707, -153435058462, 889993584983, 1465211667712}));
}

// Ranges just above a power of two reject about half of the draws (14 next32 draws for 8
// values; 16 next64 draws for 8 values), so the Lemire threshold and retry loop are exercised.
TEST(NumpyRngIntegers, RejectionHeavyRanges) {
  EXPECT_EQ(NumpyRng(9).integers(0, (int64_t{1} << 31) + 1, 8),
            (std::vector<int64_t>{905266064, 1868845935, 2063827472, 1433488764, 1965526454,
                                  1965763840, 1989829892, 1847681292}));
  EXPECT_EQ(NumpyRng(9).integers(-(int64_t{1} << 62), (int64_t{1} << 62) + 1, 8),
            (std::vector<int64_t>{951373762838876639, 2559800099680111996, 3831205387997515190,
                                  3324044706133468420, -4559794859913146723, 3049444516545435648,
                                  4457676405298267159, 2625062556554550554}));
}

TEST(NumpyRngIntegers, SingleValueRangeDrawsNothing) {
  NumpyRng rng(11);
  EXPECT_EQ(rng.integers(5, 6, 3), (std::vector<int64_t>{5, 5, 5}));
  EXPECT_EQ(rng.next64(), 0x20e9fa102240cc4eu);
  EXPECT_EQ(NumpyRng(11).next64(), 0x20e9fa102240cc4eu);
}

// --- normal / uniform arithmetic ---------------------------------------------------------------

TEST(NumpyRngNormal, LocScaleIsMultiplyThenAdd) {
  const std::vector<double> v = NumpyRng(2).normal(3.0, 0.5, 3);
  EXPECT_EQ(
      v, (std::vector<double>{0x1.8c19735b00176p+1, 0x1.5e8b4a1ef388cp+1, 0x1.65905ded7d907p+1}));
  NumpyRng rng(2);
  for (double x : v) EXPECT_EQ(x, 3.0 + 0.5 * rng.standard_normal());
}

TEST(NumpyRngErrors, InvalidArgumentsThrowInputError) {
  NumpyRng rng(0);
  EXPECT_THROW(rng.normal(0.0, -1.0, 1), InputError);
  EXPECT_THROW(rng.normal(0.0, std::nan(""), 1), InputError);
  EXPECT_THROW(rng.uniform(1.0, 0.0, 1), InputError);
  EXPECT_THROW(rng.uniform(-1e308, 1e308, 1), InputError);
  EXPECT_THROW(rng.integers(5, 5, 1), InputError);
  EXPECT_THROW(rng.choice_without_replacement(10, 11), InputError);
  EXPECT_THROW(rng.choice_without_replacement(-1, 0), InputError);
}

}  // namespace
}  // namespace ctb
