// `--simd TARGET` (run, knn, audit, gate): force one Highway target, so one machine can time
// and test every kernel path.
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

}  // namespace ctb::cli
