#pragma once
// Scenario text (YAML or JSON) turned into one typed tree, so a single validator serves both
// formats. Internal to the scenario module.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace ctb::scenario_detail {

enum class DocFormat { yaml, json };

// Limits that keep hostile input from exhausting memory or stack before validation starts; a
// real scenario is a few hundred bytes and three levels deep.
inline constexpr size_t kMaxDocumentBytes = size_t{1} << 20;
inline constexpr int kMaxDocumentDepth = 32;
inline constexpr size_t kMaxDocumentNodes = 10000;

/// Parses `text` into a tree of objects, arrays and typed scalars. YAML plain scalars are
/// resolved with the YAML 1.2 core schema (int, float, bool, null); quoted scalars stay
/// strings, so `k: "50"` is a string and fails validation. Duplicate keys, tags other than
/// !!str, over-deep nesting and oversize input are InputErrors naming `source` (and the line
/// where the parser knows it).
nlohmann::json parse_document(const std::string& text, DocFormat format, const std::string& source);

/// The format implied by a file name: ".json" is JSON, anything else YAML.
DocFormat format_for(const std::string& file_name);

}  // namespace ctb::scenario_detail
