#pragma once
// JSON text exactly as the reference's Python writes it, and a lenient reader for its logs.
//
// nlohmann::json 3.11 cannot do either job on its own: it writes non-finite numbers as `null`
// and rejects the bare `Infinity` / `NaN` tokens that Python's json module emits, and its
// float formatting differs from Python's repr. So rows are written by our own serializer
// (same separators, ASCII escaping and float spelling as `json.dumps(sort_keys=True)`) and
// read by our own small parser, both over nlohmann::json values (whose objects are std::maps,
// so keys come out sorted by code point, as Python's sort_keys does).
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ctb {

/// Limits that keep a hostile line from exhausting the parser (the fuzz target relies on them).
struct JsonLineLimits {
  size_t max_line_bytes = size_t{4} << 20;  // reference rows are ~8 KB; 4 MiB is generous
  int max_depth = 64;                       // reference rows nest 3 levels deep
};

/// Parses one JSONL line into an object. Accepts strict JSON plus the bare tokens `NaN`,
/// `Infinity` and `-Infinity` (as doubles). Integers without fraction or exponent stay integers.
/// Throws InputError "<file>:<line_no>: column <c>: <problem>" on anything else, including a
/// top-level value that is not an object. This is the fuzzing entry point.
nlohmann::json parse_telemetry_line(std::string_view line, std::string_view file, size_t line_no,
                                    const JsonLineLimits& limits = {});

/// Separator style: `row` = Python json.dumps default (", " and ": "), used for JSONL rows;
/// `canonical` = separators (",", ":"), used for hashing (ref-telemetry.md §2.7).
enum class JsonStyle { row, canonical };

/// Serializes like Python json.dumps(value, sort_keys=True, ensure_ascii=True): floats in
/// repr form (shortest round trip, `.0` kept, exponent when < 1e-4 or >= 1e16), non-finite
/// floats as bare Infinity / -Infinity / NaN. Invalid UTF-8 in strings becomes U+FFFD.
std::string dump_json(const nlohmann::json& value, JsonStyle style = JsonStyle::row);

/// A double as Python's repr() spells it ("0.1", "8.0", "1e-05", "4.413590036226324e+16").
std::string python_float_repr(double value);

}  // namespace ctb
