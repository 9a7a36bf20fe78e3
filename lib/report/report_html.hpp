#pragma once
// The report as one self-contained HTML page: tables written here, charts drawn in the page by
// Chart.js (inlined) from the report data (inlined as JSON). No network reference of any kind.
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace ctb {

/// The page for `data` (build_report_data's object).
std::string render_report_html(const nlohmann::json& data);

/// `text` with &, <, >, " and ' escaped for HTML text and attribute values.
std::string html_escape(std::string_view text);

}  // namespace ctb
