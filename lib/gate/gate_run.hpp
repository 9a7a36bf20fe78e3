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
  size_t repeat = 5;             // timed passes (tree and brute force each)
  size_t warmup = 1;             // untimed tree passes first
  std::optional<int> threads;    // default: the scenario's, else all cores
  double inject_slowdown = 1.0;  // the tree query does about FACTOR times its work
  bool progress = true;
};

/// The gate's view of one run (which must have compared against brute force).
Measurement measurement_from(const RunResult& result);

/// Runs `scenario` (a built-in name or a file) with brute-force comparison. `threads_used`
/// receives the thread count the run used, for the fingerprint.
Measurement measure_scenario(const std::string& scenario, const GateRunOptions& options,
                             int* threads_used);

/// This machine and build, running with `threads` threads.
Fingerprint current_fingerprint(int threads);

/// Checksum of neighbour indices: SHA-256 over the Q x k int64 values in row order.
std::string answer_checksum(const KnnResult& answer);

}  // namespace ctb::gate
