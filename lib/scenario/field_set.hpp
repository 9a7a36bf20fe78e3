#pragma once
// Setting one scenario field by its dotted name (`build.pivots`, `k`, ...) in a parsed scenario
// document, for `sweep --set`. The value is written as it would be in the YAML file, and the
// document is validated afterwards by the one scenario validator, so every field of the schema
// can be set and a bad name or value fails exactly as it would in a file.
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace ctb {

/// Parses `text` as one YAML value with the scenario's scalar rules (`512` an integer, `0.5` a
/// float, `true` a boolean, `rbf` and `"512"` strings). `what` names it in errors.
nlohmann::json parse_field_value(const std::string& text, std::string_view what);

/// Sets `doc[a][b]...` for the dotted `field` "a.b...", creating missing mappings. Throws
/// InputError when the name is malformed or a part of its path is not a mapping in `doc`
/// (e.g. `data.n` when `data` is an NPY path); `source` names the document.
void set_scenario_field(nlohmann::json& doc, std::string_view field, const nlohmann::json& value,
                        std::string_view source);

}  // namespace ctb
