#pragma once
// The report's content, gathered from telemetry logs (ours and the covertreex reference's) and
// an optional gate verdict: one JSON object that both the HTML tables and the page's charts
// are made from, so a test can check the content without a browser.
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "telemetry/reader.hpp"

namespace ctb {

/// The reference's float32 answer on the gold inputs: recall@50 0.5229 against the float64
/// exact answer (measured by `audit --reference`, issue 6). Drawn on gold32k sweep charts as
/// the line an approximate configuration should clear.
inline constexpr double kGoldReferenceFloat32Recall = 0.5229;

/// {"logs": [...], "runs": [...], "sweeps": [...], "gate": {...}|null}; see docs/report.md.
/// Each run: headline figures, machine fingerprint, passes, build rows and (with
/// --telemetry-queries) the per-query distance-evaluation distribution.
nlohmann::json build_report_data(const std::vector<TelemetryLog>& logs,
                                 const std::optional<nlohmann::json>& gate_verdict);

/// Percentile q in [0, 1] of integer samples (numpy's linear method); NaN when empty.
double percentile_of(std::vector<double> xs, double q);

}  // namespace ctb
