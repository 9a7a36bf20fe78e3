#pragma once
// numpy.random.default_rng(seed) reproduced bit for bit: SeedSequence -> PCG64 -> Generator
// streams normal, integers (int64), choice(replace=False) and uniform.
// Specification: ../shared/spec/numpy-rng.md.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ctb {

class NumpyRng {
 public:
  // PCG64 state is 128-bit; GCC and Clang provide the type (numpy-rng.md section 3).
  __extension__ typedef unsigned __int128 Uint128;

  /// Equivalent of numpy.random.default_rng(seed) for a non-negative integer seed.
  explicit NumpyRng(uint64_t seed);

  /// SeedSequence(seed).pool (pool size 4); exposed so tests can check seeding step by step.
  static std::array<uint32_t, 4> seed_sequence_pool(uint64_t seed);
  /// SeedSequence(seed).generate_state(4, uint64): the words PCG64 is seeded from.
  static std::array<uint64_t, 4> seed_sequence_state(uint64_t seed);

  uint64_t next64();
  uint32_t next32();     // buffered halves of next64, low half first
  double next_double();  // 53-bit, [0, 1)
  double standard_normal();

  /// rng.normal(loc, scale, count), flat C order.
  std::vector<double> normal(double loc, double scale, size_t count);
  /// rng.uniform(low, high, count).
  std::vector<double> uniform(double low, double high, size_t count);
  /// rng.integers(low, high, count) (endpoint=False), int64.
  std::vector<int64_t> integers(int64_t low, int64_t high, size_t count);
  /// rng.choice(n, size, replace=False) with numpy's order (shuffle=True). Not sorted.
  std::vector<int64_t> choice_without_replacement(int64_t n, size_t size);

  /// PCG64 state and increment (numpy's bit_generator.state["state"]).
  Uint128 state() const { return state_; }
  Uint128 increment() const { return increment_; }

 private:
  uint64_t bounded64(uint64_t rng);  // uniform on [0, rng], numpy's Lemire rule
  void step() { state_ = state_ * kMultiplier + increment_; }

  static constexpr Uint128 kMultiplier =
      (static_cast<Uint128>(0x2360ED051FC65DA4ULL) << 64) | 0x4385DF649FCCF645ULL;

  Uint128 state_ = 0;
  Uint128 increment_ = 0;
  uint32_t buffered_ = 0;
  bool has_buffered_ = false;
};

}  // namespace ctb
