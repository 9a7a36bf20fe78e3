#pragma once
// Baseline files, the gate's JSON report and its table. A baseline is JSON (schema id
// "covertree_bench.gate_baseline", version 1) holding the fingerprint, the run settings, the
// optional policy overrides, and every scenario's raw measurement (all repetitions), so the
// figures and their noise are recomputed from the same data the gate would see in a run.
#include <filesystem>
#include <string>

#include "core/atomic_file.hpp"
#include "gate/gate.hpp"
#include "nlohmann/json.hpp"

namespace ctb::gate {

inline constexpr const char* kBaselineSchemaId = "covertree_bench.gate_baseline";
inline constexpr int kBaselineSchemaVersion = 1;

nlohmann::json to_json(const Fingerprint& fp);
nlohmann::json to_json(const Measurement& m);
nlohmann::json to_json(const Baseline& baseline);

/// Parses a baseline; `source` names it in errors. Throws InputError on a wrong schema, a wrong
/// type or an invalid policy. Figures may be absent (null): the gate then fails those checks.
Baseline baseline_from_json(const nlohmann::json& j, const std::string& source);

/// Reads and parses a baseline file (InputError when absent or malformed).
Baseline load_baseline(const std::filesystem::path& path);

/// Writes a baseline atomically (the old file stays intact if the write fails).
void save_baseline(const std::filesystem::path& path, const Baseline& baseline);

/// Taken for the whole of one `gate --record` (measuring and writing): a second recorder of the
/// same baseline fails at once with InputError (exit 2) naming the file, instead of one
/// recording silently replacing the other.
OutputLock lock_baseline_for_record(const std::filesystem::path& path);

/// {"verdict", "checks": [{name, baseline, current, ratio, verdict, ...}], ...}; NaN as null.
nlohmann::json report_json(const GateReport& report);

/// A fixed-width table of every check (baseline, current, ratio, allowed, verdict, note) and a
/// closing verdict line listing every breach.
std::string report_table(const GateReport& report);

}  // namespace ctb::gate
