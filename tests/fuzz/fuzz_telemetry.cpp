// libFuzzer target: the telemetry reader. The input is parsed as one JSONL line (the lenient
// parser that accepts NaN/Infinity) and as a whole log (line splitting, row classification,
// grouping into runs). A parsed line must survive a write/read round trip through our own
// serializer. Any input must end in a value or an InputError.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.hpp"
#include "telemetry/json_line.hpp"
#include "telemetry/reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json row = ctb::parse_telemetry_line(text, "fuzz.jsonl", 1);
    const std::string again = ctb::dump_json(row);
    try {
      ctb::parse_telemetry_line(again, "roundtrip.jsonl", 1);
    } catch (const ctb::InputError&) {
      __builtin_trap();  // we wrote something we cannot read back
    }
  } catch (const ctb::InputError&) {
  }
  try {
    ctb::parse_telemetry_log(text, "fuzz.jsonl");
  } catch (const ctb::InputError&) {
  }
  return 0;
}
