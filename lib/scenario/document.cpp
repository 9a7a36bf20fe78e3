#include "scenario/document.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace ctb::scenario_detail {
namespace {

using nlohmann::json;

constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";

[[noreturn]] void fail(const std::string& source, const std::string& problem) {
  throw InputError(fmt::format("{}: {}", source, problem));
}

// yaml-cpp and nlohmann guard their own recursion, but only at depths (thousands) whose stack
// use depends on the build; reject deep nesting from the raw text first. Brackets inside
// strings count too, which can only make this stricter for absurd strings.
void check_text_limits(const std::string& text, const std::string& source) {
  if (text.size() > kMaxDocumentBytes) {
    fail(source, fmt::format("scenario text too large ({} bytes, limit {})", text.size(),
                             kMaxDocumentBytes));
  }
  if (text.find('\0') != std::string::npos) fail(source, "scenario text contains a NUL byte");
  int flow_depth = 0;
  size_t line = 1;
  for (const char c : text) {
    if (c == '[' || c == '{') {
      if (++flow_depth > 2 * kMaxDocumentDepth) {
        fail(source, fmt::format("line {}: nesting too deep (limit {})", line, kMaxDocumentDepth));
      }
    } else if (c == ']' || c == '}') {
      flow_depth = flow_depth > 0 ? flow_depth - 1 : 0;
    } else if (c == '\n') {
      ++line;
    }
  }
  // Block nesting shows as the width of the indentation and "- " / "? " markers of a line.
  line = 1;
  size_t lead = 0;
  bool in_lead = true;
  for (const char c : text) {
    if (c == '\n') {
      ++line;
      lead = 0;
      in_lead = true;
      continue;
    }
    if (!in_lead) continue;
    if (c == ' ' || c == '-' || c == '?' || c == '\t') {
      if (++lead > 8 * static_cast<size_t>(kMaxDocumentDepth)) {
        fail(source, fmt::format("line {}: nesting too deep (limit {})", line, kMaxDocumentDepth));
      }
    } else {
      in_lead = false;
    }
  }
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// YAML 1.2 core schema float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
bool is_core_float(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t int_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
  size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!all_digits(s.substr(i))) return false;
    return true;
  }
  return i == s.size();
}

class YamlConverter {
 public:
  explicit YamlConverter(const std::string& source) : source_(source) {}

  json convert(const YAML::Node& node, int depth, const std::string& path) {
    if (depth > kMaxDocumentDepth) {
      fail_at(node, fmt::format("nesting too deep (limit {})", kMaxDocumentDepth));
    }
    if (++nodes_ > kMaxDocumentNodes) {
      // Aliases can expand a small text into a huge tree.
      fail_at(node, fmt::format("too many values (limit {})", kMaxDocumentNodes));
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return json(nullptr);
      case YAML::NodeType::Scalar:
        return scalar(node, path);
      case YAML::NodeType::Sequence: {
        json out = json::array();
        size_t i = 0;
        for (const auto& item : node) {
          out.push_back(convert(item, depth + 1, fmt::format("{}[{}]", path, i++)));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        json out = json::object();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) fail_at(kv.first, "mapping keys must be plain strings");
          const std::string& key = kv.first.Scalar();
          const std::string child = path.empty() ? key : path + "." + key;
          if (out.contains(key)) fail_at(kv.first, fmt::format("duplicate key '{}'", child));
          out[key] = convert(kv.second, depth + 1, child);
        }
        return out;
      }
    }
    fail_at(node, "unsupported YAML node");
  }

 private:
  [[noreturn]] void fail_at(const YAML::Node& node, const std::string& problem) const {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) fail(source_, problem);
    fail(source_, fmt::format("line {}: {}", mark.line + 1, problem));
  }

  json scalar(const YAML::Node& node, const std::string& path) const {
    const std::string& tag = node.Tag();
    const std::string& s = node.Scalar();
    if (tag == "!" || tag == kStrTag) return json(s);  // quoted or explicitly a string
    if (tag != "?" && !tag.empty()) {
      fail_at(node, fmt::format("field '{}': unsupported YAML tag '{}'", path, tag));
    }
    if (s == "true" || s == "True" || s == "TRUE") return json(true);
    if (s == "false" || s == "False" || s == "FALSE") return json(false);
    if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return json(nullptr);
    const std::string_view body =
        (s[0] == '+' || s[0] == '-') ? std::string_view(s).substr(1) : std::string_view(s);
    const bool negative = s[0] == '-';
    if (all_digits(body)) {
      if (negative) {
        int64_t v = 0;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return json(v);
      } else {
        uint64_t v = 0;
        const auto r = std::from_chars(body.data(), body.data() + body.size(), v);
        if (r.ec == std::errc() && r.ptr == body.data() + body.size()) return json(v);
      }
      fail_at(node, fmt::format("field '{}': integer out of range (got {})", path, s));
    }
    if (body == ".inf" || body == ".Inf" || body == ".INF") {
      return json(negative ? -std::numeric_limits<double>::infinity()
                           : std::numeric_limits<double>::infinity());
    }
    if (s == ".nan" || s == ".NaN" || s == ".NAN") {
      return json(std::numeric_limits<double>::quiet_NaN());
    }
    if (is_core_float(s)) {
      double v = 0;
      const auto r = std::from_chars(body.data(), body.data() + body.size(), v);
      if (r.ec == std::errc() && r.ptr == body.data() + body.size()) {
        return json(negative ? -v : v);
      }
      fail_at(node, fmt::format("field '{}': number out of range (got {})", path, s));
    }
    return json(s);
  }

  const std::string& source_;
  size_t nodes_ = 0;
};

// A second document starts with a "---" line after some content. We look for it ourselves
// because Debian's yaml-cpp 0.7 YAML::LoadAll never returns on a stray ',' at document level
// (found by fuzz_scenario): it keeps appending empty documents until memory runs out.
bool has_second_document(const std::string& text) {
  bool content = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    if (line.rfind("---", 0) == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\r')) {
      if (content) return true;
    } else if (line.find_first_not_of(" \t\r") != std::string_view::npos &&
               line[line.find_first_not_of(" \t\r")] != '#') {
      content = true;
    }
    pos = end + 1;
  }
  return false;
}

json parse_yaml(const std::string& text, const std::string& source) {
  if (has_second_document(text)) {
    fail(source, "more than one YAML document (expected one scenario)");
  }
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) fail(source, fmt::format("invalid YAML: {}", e.msg));
    fail(source, fmt::format("line {}, column {}: invalid YAML: {}", e.mark.line + 1,
                             e.mark.column + 1, e.msg));
  }
  if (!doc.IsDefined() || doc.IsNull()) {
    fail(source, "empty scenario (expected a mapping of scenario fields)");
  }
  return YamlConverter(source).convert(doc, 0, "");
}

json parse_json(const std::string& text, const std::string& source) {
  // Duplicate keys would otherwise keep the last value silently; one set of keys per open
  // object finds them while parsing.
  std::vector<std::set<std::string>> open_objects;
  const auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxDocumentDepth) {
      fail(source, fmt::format("nesting too deep (limit {})", kMaxDocumentDepth));
    }
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string() &&
            !open_objects.back().insert(parsed.get<std::string>()).second) {
          fail(source, fmt::format("duplicate key '{}'", parsed.get<std::string>()));
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text, callback, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    // parse_error for syntax, out_of_range (406) for a number too large for a double.
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; the rest names line/column.
    if (const size_t close = what.find("] "); what.starts_with("[json.") && close != what.npos) {
      what = what.substr(close + 2);
    }
    fail(source, fmt::format("invalid JSON: {}", what));
  }
}

}  // namespace

json parse_document(const std::string& text, DocFormat format, const std::string& source) {
  check_text_limits(text, source);
  json doc = format == DocFormat::json ? parse_json(text, source) : parse_yaml(text, source);
  if (format == DocFormat::json) {
    // JSON nesting was bounded by the parser callback; count values like the YAML path does.
    size_t nodes = 0;
    std::vector<const json*> stack{&doc};
    while (!stack.empty()) {
      const json* v = stack.back();
      stack.pop_back();
      if (++nodes > kMaxDocumentNodes) {
        fail(source, fmt::format("too many values (limit {})", kMaxDocumentNodes));
      }
      if (v->is_structured()) {
        for (const auto& child : *v) stack.push_back(&child);
      }
    }
  }
  return doc;
}

DocFormat format_for(const std::string& file_name) {
  const std::string_view name(file_name);
  return name.ends_with(".json") || name.ends_with(".JSON") ? DocFormat::json : DocFormat::yaml;
}

}  // namespace ctb::scenario_detail
