// `--simd TARGET` (run, knn, audit, gate): force one Highway target, so one machine can time
// and test every kernel path. `--engine NAME` (run, knn, audit, gate): the index that answers.
#include <string>

#include "commands.hpp"
#include "metric/distance_kernels.hpp"

namespace ctb::cli {

void add_simd_option(CLI::App* cmd, std::string* target) {
  std::string choices;
  for (const std::string& c : simd_target_choices()) choices += (choices.empty() ? "" : ", ") + c;
  cmd->add_option("--simd", *target,
                  "SIMD target of the distance kernels: best (default) or a Highway target, lower "
                  "case; 'scalar' is the portable fallback. This CPU runs: " +
                      choices + ". The summary's simd_target says which ran")
      ->capture_default_str();
}

void apply_simd_option(const std::string& target) { select_simd_target(target); }

void add_engine_option(CLI::App* cmd, std::string* engine) {
  cmd->add_option("--engine", *engine,
                  "The index that answers (overrides the scenario's query.engine, default auto): "
                  "auto (pivot for residual data, box for Euclidean), pivot (residual pivot "
                  "lists), box (Euclidean box tree), cover-tree (the cover tree's exact "
                  "best-first search, either metric), brute (blocked exact scan); tree = auto. "
                  "The summary's engine names the index that answered")
      ->check(CLI::IsMember({"auto", "tree", "pivot", "box", "cover-tree", "brute"}));
}

std::optional<Engine> engine_option(const std::string& engine) {
  if (engine.empty()) return std::nullopt;
  return parse_engine(engine);
}

}  // namespace ctb::cli
