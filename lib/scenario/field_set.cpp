#include "scenario/field_set.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "scenario/document.hpp"

namespace ctb {

nlohmann::json parse_field_value(const std::string& text, std::string_view what) {
  // A one-key mapping parsed by the scenario's own YAML reader gives the value exactly the type
  // it would have in a scenario file.
  const nlohmann::json doc = scenario_detail::parse_document(
      "v: " + text + "\n", scenario_detail::DocFormat::yaml, std::string(what));
  if (!doc.is_object() || !doc.contains("v") || doc.size() != 1) {
    throw InputError(fmt::format("{}: not a single value", what));
  }
  return doc["v"];
}

void set_scenario_field(nlohmann::json& doc, std::string_view field, const nlohmann::json& value,
                        std::string_view source) {
  if (field.empty() || field.front() == '.' || field.back() == '.' ||
      field.find("..") != std::string_view::npos) {
    throw InputError(fmt::format("field '{}': not a dotted field name like build.pivots", field));
  }
  if (!doc.is_object()) throw InputError(fmt::format("{}: not a mapping of fields", source));
  nlohmann::json* node = &doc;
  size_t start = 0;
  while (true) {
    const size_t dot = field.find('.', start);
    const std::string key(field.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) {
      (*node)[key] = value;
      return;
    }
    nlohmann::json& next = (*node)[key];
    if (next.is_null()) next = nlohmann::json::object();
    if (!next.is_object()) {
      throw InputError(fmt::format("{}: field '{}': '{}' is not a mapping here (it is {})", source,
                                   field, field.substr(0, dot), next.dump()));
    }
    node = &next;
    start = dot + 1;
  }
}

}  // namespace ctb
