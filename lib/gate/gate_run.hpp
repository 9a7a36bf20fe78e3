#pragma once
// Running the gate: measures scenarios through the benchmark harness (bench/runner.hpp) and
// turns each run into the gate's plain Measurement. The decisions live in gate.hpp.
#include <optional>
#include <string>
#include <vector>

#include "bench/runner.hpp"
#include "gate/gate.hpp"

namespace ctb::gate {

struct GateRunOptions {
  size_t repeat = 5;             // independent runs: build + tree pass + brute pass each
  size_t warmup = 1;             // untimed tree passes before each timed one
  std::optional<int> threads;    // default: the scenario's, else all cores
  double inject_slowdown = 1.0;  // the tree query does about FACTOR times its work
  bool progress = true;
};

/// The gate's view of one run (which must have compared against brute force).
Measurement measurement_from(const RunResult& result);

/// Measures `scenario` (a built-in name or a file): `repeat` independent runs, each building the
/// tree, then `warmup` untimed and one timed tree pass, then one brute-force pass. Interleaving
/// the engines keeps each tree pass next to its brute pass, so load on a shared machine that
/// comes and goes hits both sides of the ratio alike, and the build gets repetitions (and a
/// spread) of its own. The runs must agree on every counter and on the answer.
/// `threads_used` receives the thread count, for the fingerprint.
Measurement measure_scenario(const std::string& scenario, const GateRunOptions& options,
                             int* threads_used);

/// This machine and build, running with `threads` threads.
Fingerprint current_fingerprint(int threads);

/// Checksum of neighbour indices: SHA-256 over the Q x k int64 values in row order.
std::string answer_checksum(const KnnResult& answer);

}  // namespace ctb::gate
