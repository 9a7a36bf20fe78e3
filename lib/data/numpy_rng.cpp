#include "data/numpy_rng.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_set>
#include <utility>

#include "core/error.hpp"
#include "data/ziggurat_tables.hpp"

namespace ctb {
namespace {

// SeedSequence constants (numpy-rng.md section 2).
constexpr uint32_t kInitA = 0x43b0d7e5;
constexpr uint32_t kMultA = 0x931e8875;
constexpr uint32_t kInitB = 0x8b51f9dd;
constexpr uint32_t kMultB = 0x58f38ded;
constexpr uint32_t kMixMultL = 0xca01f9dd;
constexpr uint32_t kMixMultR = 0x4973f715;
constexpr int kXShift = 16;
constexpr size_t kPoolSize = 4;

// The hash multiplier is shared by every hashmix call of one mixing pass, so it is state
// carried by the caller rather than a constant.
uint32_t hashmix(uint32_t value, uint32_t& multiplier) {
  value ^= multiplier;
  multiplier *= kMultA;
  value *= multiplier;
  return value ^ (value >> kXShift);
}

uint32_t mix(uint32_t x, uint32_t y) {
  uint32_t r = kMixMultL * x - kMixMultR * y;
  return r ^ (r >> kXShift);
}

uint64_t hi64(NumpyRng::Uint128 v) { return static_cast<uint64_t>(v >> 64); }
uint64_t lo64(NumpyRng::Uint128 v) { return static_cast<uint64_t>(v); }

}  // namespace

std::array<uint32_t, 4> NumpyRng::seed_sequence_pool(uint64_t seed) {
  // A seed is cut into u32 words, least significant first; 0 still gives one word.
  uint32_t entropy[2] = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  const size_t n_words = (seed >> 32) != 0 ? 2 : 1;
  uint32_t multiplier = kInitA;
  std::array<uint32_t, 4> pool{};
  for (size_t i = 0; i < kPoolSize; ++i)
    pool[i] = hashmix(i < n_words ? entropy[i] : 0, multiplier);
  for (size_t src = 0; src < kPoolSize; ++src) {
    for (size_t dst = 0; dst < kPoolSize; ++dst) {
      if (src != dst) pool[dst] = mix(pool[dst], hashmix(pool[src], multiplier));
    }
  }
  // A u64 seed has at most 2 words, so the extra-entropy pass (words 4..) never runs.
  return pool;
}

std::array<uint64_t, 4> NumpyRng::seed_sequence_state(uint64_t seed) {
  const std::array<uint32_t, 4> pool = seed_sequence_pool(seed);
  uint32_t multiplier = kInitB;
  uint32_t words32[8];
  for (size_t k = 0; k < 8; ++k) {
    uint32_t v = pool[k % kPoolSize] ^ multiplier;
    multiplier *= kMultB;
    v *= multiplier;
    words32[k] = v ^ (v >> kXShift);
  }
  std::array<uint64_t, 4> words{};
  for (size_t j = 0; j < 4; ++j) {
    words[j] =
        static_cast<uint64_t>(words32[2 * j]) | (static_cast<uint64_t>(words32[2 * j + 1]) << 32);
  }
  return words;
}

NumpyRng::NumpyRng(uint64_t seed) {
  const std::array<uint64_t, 4> w = seed_sequence_state(seed);
  // numpy puts the first word in the HIGH half of each 128-bit seed value.
  const Uint128 initstate = (static_cast<Uint128>(w[0]) << 64) | w[1];
  const Uint128 initseq = (static_cast<Uint128>(w[2]) << 64) | w[3];
  increment_ = (initseq << 1) | 1;
  state_ = 0;
  step();
  state_ += initstate;
  step();
}

uint64_t NumpyRng::next64() {
  step();
  const uint64_t x = hi64(state_) ^ lo64(state_);
  const unsigned rot = static_cast<unsigned>(state_ >> 122);
  // (-rot) & 63 keeps a rotation by 0 from shifting by 64.
  return (x >> rot) | (x << ((-rot) & 63u));
}

uint32_t NumpyRng::next32() {
  if (has_buffered_) {
    has_buffered_ = false;
    return buffered_;
  }
  const uint64_t v = next64();
  buffered_ = static_cast<uint32_t>(v >> 32);
  has_buffered_ = true;
  return static_cast<uint32_t>(v);
}

double NumpyRng::next_double() {
  return static_cast<double>(next64() >> 11) * (1.0 / 9007199254740992.0);
}

double NumpyRng::standard_normal() {
  using namespace ziggurat;
  for (;;) {
    uint64_t r = next64();
    const unsigned idx = static_cast<unsigned>(r & 0xFF);
    r >>= 8;
    const bool negative = (r & 1) != 0;
    const uint64_t rabs = (r >> 1) & 0x000FFFFFFFFFFFFFULL;
    double x = static_cast<double>(rabs) * kZigWi[idx];
    if (negative) x = -x;
    if (rabs < kZigKi[idx]) return x;
    if (idx == 0) {
      // Tail beyond R: numpy takes the sign from bit 8 of rabs and never restarts.
      for (;;) {
        const double xx = -kZigInvR * std::log1p(-next_double());
        const double yy = -std::log1p(-next_double());
        if (yy + yy > xx * xx) return ((rabs >> 8) & 1) ? -(kZigR + xx) : kZigR + xx;
      }
    }
    const double u = next_double();
    if ((kZigFi[idx - 1] - kZigFi[idx]) * u + kZigFi[idx] < std::exp(-0.5 * x * x)) return x;
  }
}

std::vector<double> NumpyRng::normal(double loc, double scale, size_t count) {
  if (!(scale >= 0.0) || std::signbit(scale)) {
    throw InputError("normal: scale must be non-negative, got " + std::to_string(scale));
  }
  std::vector<double> out(count);
  for (double& v : out) v = loc + scale * standard_normal();
  return out;
}

std::vector<double> NumpyRng::uniform(double low, double high, size_t count) {
  const double range = high - low;
  if (!std::isfinite(range)) {
    throw InputError("uniform: high - low is not finite (low " + std::to_string(low) + ", high " +
                     std::to_string(high) + ")");
  }
  if (range < 0.0 || std::signbit(range)) {
    throw InputError("uniform: high < low (low " + std::to_string(low) + ", high " +
                     std::to_string(high) + ")");
  }
  std::vector<double> out(count);
  for (double& v : out) v = low + range * next_double();
  return out;
}

uint64_t NumpyRng::bounded64(uint64_t rng) {
  constexpr uint64_t kMax32 = std::numeric_limits<uint32_t>::max();
  constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();
  if (rng == 0) return 0;
  if (rng < kMax32) {
    // 32-bit Lemire on buffered halves: a 64-bit variant would give different values.
    const uint64_t n = rng + 1;
    uint64_t m = static_cast<uint64_t>(next32()) * n;
    uint32_t left = static_cast<uint32_t>(m);
    if (left < n) {
      const uint32_t threshold = static_cast<uint32_t>((kMax32 - rng) % n);
      while (left < threshold) {
        m = static_cast<uint64_t>(next32()) * n;
        left = static_cast<uint32_t>(m);
      }
    }
    return m >> 32;
  }
  if (rng == kMax32) return next32();
  if (rng < kMax64) {
    const uint64_t n = rng + 1;
    Uint128 m = static_cast<Uint128>(next64()) * n;
    uint64_t left = lo64(m);
    if (left < n) {
      const uint64_t threshold = (kMax64 - rng) % n;
      while (left < threshold) {
        m = static_cast<Uint128>(next64()) * n;
        left = lo64(m);
      }
    }
    return hi64(m);
  }
  return next64();
}

std::vector<int64_t> NumpyRng::integers(int64_t low, int64_t high, size_t count) {
  if (low >= high) {
    throw InputError("integers: need low < high, got low " + std::to_string(low) + ", high " +
                     std::to_string(high));
  }
  // Unsigned arithmetic: high - 1 - low may exceed INT64_MAX, and the offset wraps mod 2^64.
  const uint64_t off = static_cast<uint64_t>(low);
  const uint64_t rng = static_cast<uint64_t>(high) - 1 - off;
  std::vector<int64_t> out(count);
  for (int64_t& v : out) v = static_cast<int64_t>(off + bounded64(rng));
  return out;
}

std::vector<int64_t> NumpyRng::choice_without_replacement(int64_t n, size_t size) {
  if (n < 0 || (n == 0 && size > 0)) {
    throw InputError("choice: population must be positive, got " + std::to_string(n));
  }
  if (size > static_cast<uint64_t>(n)) {
    throw InputError("choice: cannot take " + std::to_string(size) +
                     " samples from a population of " + std::to_string(n) + " without replacement");
  }
  const int64_t count = static_cast<int64_t>(size);
  std::vector<int64_t> out;
  if (n > 10000 && count > n / 50) {
    // numpy's tail shuffle: partial Fisher-Yates over 0..n-1, keep the last `size`; no
    // further shuffle.
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
    const int64_t stop = std::max<int64_t>(n - count, 1);
    for (int64_t i = n - 1; i >= stop; --i) {
      const uint64_t k = bounded64(static_cast<uint64_t>(i));
      std::swap(idx[static_cast<size_t>(i)], idx[k]);
    }
    out.assign(idx.end() - count, idx.end());
    return out;
  }
  // Floyd's algorithm in numpy's slot order, then numpy's shuffle of the result.
  out.resize(size);
  std::unordered_set<int64_t> taken;
  taken.reserve(size);
  for (int64_t j = n - count; j < n; ++j) {
    int64_t v = static_cast<int64_t>(bounded64(static_cast<uint64_t>(j)));
    if (!taken.insert(v).second) {
      v = j;
      taken.insert(v);
    }
    out[static_cast<size_t>(j - (n - count))] = v;
  }
  for (int64_t i = count - 1; i >= 1; --i) {
    const uint64_t k = bounded64(static_cast<uint64_t>(i));
    std::swap(out[static_cast<size_t>(i)], out[k]);
  }
  return out;
}

}  // namespace ctb
