// libFuzzer target: the scenario parser (YAML and JSON) and its validator. Any input must end
// in a Scenario or an InputError; anything else escaping (another exception type, a crash, a
// sanitizer report, a hang) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "scenario/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // The base directory does not exist, so NPY paths in the input resolve to nothing: the
  // harness never reads files named by the fuzzer.
  for (const char* source : {"fuzz.yaml", "fuzz.json"}) {
    try {
      const ctb::Scenario s = ctb::parse_scenario(text, source, "/nonexistent/ctb-fuzz");
      // A parsed scenario must satisfy the documented ranges.
      if (s.k < 1 || s.repeat < 1 || s.name.empty()) __builtin_trap();
    } catch (const ctb::InputError&) {
    }
  }
  return 0;
}
