#include "telemetry/json_line.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <system_error>

#include "core/error.hpp"

namespace ctb {
namespace {

using nlohmann::json;

// Decodes one UTF-8 sequence at s[i]; returns U+FFFD and advances one byte when invalid.
unsigned decode_utf8(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  int len = 0;
  unsigned cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    ++i;
    return 0xFFFD;
  }
  if (i + static_cast<size_t>(len) > s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += static_cast<size_t>(len);
  return cp;
}

class LineParser {
 public:
  LineParser(std::string_view text, std::string_view file, size_t line_no,
             const JsonLineLimits& limits)
      : s_(text), file_(file), line_no_(line_no), limits_(limits) {}

  json parse_document() {
    if (s_.size() > limits_.max_line_bytes) {
      fail(fmt::format("line is {} bytes, over the {}-byte limit", s_.size(),
                       limits_.max_line_bytes));
    }
    skip_ws();
    if (pos_ >= s_.size() || s_[pos_] != '{') fail("expected a JSON object ('{')");
    json value = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected text after the JSON object");
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw InputError(fmt::format("{}:{}: column {}: {}", file_, line_no_, pos_ + 1, problem));
  }

  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r' || s_[pos_] == '\n')) {
      ++pos_;
    }
  }

  bool consume_word(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  json parse_value(int depth) {
    if (depth > limits_.max_depth) {
      fail(fmt::format("nesting deeper than {} levels", limits_.max_depth));
    }
    skip_ws();
    if (pos_ >= s_.size()) fail("unexpected end of line, expected a value");
    const char c = s_[pos_];
    switch (c) {
      case '{':
        return parse_object(depth);
      case '[':
        return parse_array(depth);
      case '"':
        return parse_string();
      case 't':
        if (consume_word("true")) return true;
        break;
      case 'f':
        if (consume_word("false")) return false;
        break;
      case 'n':
        if (consume_word("null")) return nullptr;
        break;
      // The reference writes non-finite floats as these bare tokens (Python json default).
      case 'N':
        if (consume_word("NaN")) return std::numeric_limits<double>::quiet_NaN();
        break;
      case 'I':
        if (consume_word("Infinity")) return std::numeric_limits<double>::infinity();
        break;
      case '-':
        if (consume_word("-Infinity")) return -std::numeric_limits<double>::infinity();
        return parse_number();
      default:
        if (c >= '0' && c <= '9') return parse_number();
    }
    fail("invalid value");
  }

  json parse_object(int depth) {
    ++pos_;  // '{'
    json obj = json::object();
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return obj;
    }
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a string key");
      std::string key = parse_string_raw();
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') fail("expected ':' after a key");
      ++pos_;
      obj[key] = parse_value(depth + 1);  // a repeated key keeps the last value, as Python does
      skip_ws();
      if (pos_ >= s_.size()) fail("unexpected end of line inside an object");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == '}') {
        ++pos_;
        return obj;
      }
      fail("expected ',' or '}' in an object");
    }
  }

  json parse_array(int depth) {
    ++pos_;  // '['
    json arr = json::array();
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return arr;
    }
    for (;;) {
      arr.push_back(parse_value(depth + 1));
      skip_ws();
      if (pos_ >= s_.size()) fail("unexpected end of line inside an array");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == ']') {
        ++pos_;
        return arr;
      }
      fail("expected ',' or ']' in an array");
    }
  }

  json parse_string() { return json(parse_string_raw()); }

  unsigned parse_hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= static_cast<unsigned>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v |= static_cast<unsigned>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v |= static_cast<unsigned>(h - 'A' + 10);
      } else {
        fail("invalid hex digit in a \\u escape");
      }
    }
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string parse_string_raw() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character inside a string");
      if (static_cast<unsigned char>(c) >= 0x80) {
        // Python decodes the file as UTF-8 first, so invalid bytes are unusable input; letting
        // them through would also make re-serialisation change key order.
        size_t i = pos_ - 1;
        const size_t begin = i;
        if (decode_utf8(s_, i) == 0xFFFD && s_.substr(begin, 3) != "\xEF\xBF\xBD") {
          --pos_;
          fail("invalid UTF-8 inside a string");
        }
        out.append(s_.substr(begin, i - begin));
        pos_ = i;
        continue;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = parse_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {
            const size_t save = pos_;
            pos_ += 2;
            const unsigned lo = parse_hex4();
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              pos_ = save;  // lone high surrogate; the next escape is decoded on its own
            }
          }
          // Lone surrogates cannot be encoded in UTF-8; keep the text valid with U+FFFD.
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
          append_utf8(out, cp);
          break;
        }
        default:
          fail("invalid escape in a string");
      }
    }
  }

  json parse_number() {
    const size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') fail("invalid number");
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    bool is_float = false;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      is_float = true;
      ++pos_;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') fail("digit expected after '.'");
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      is_float = true;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') fail("digit expected in exponent");
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    if (!is_float) {
      if (*first == '-') {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(first, last, v);
        if (ec == std::errc() && p == last) return v;
      } else {
        uint64_t v = 0;
        auto [p, ec] = std::from_chars(first, last, v);
        if (ec == std::errc() && p == last) {
          if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            return static_cast<int64_t>(v);
          }
          return v;
        }
      }
      // Integers beyond 64 bits fall through to a double, as a lenient reader should.
    }
    double d = 0;
    auto [p, ec] = std::from_chars(first, last, d);
    if (ec == std::errc::result_out_of_range) {
      // Python reads 1e999 as inf; tiny values underflow to 0. Keep that behaviour.
      const bool neg = *first == '-';
      bool tiny = false;
      for (const char* q = first; q < last; ++q) {
        if (*q == 'e' || *q == 'E') {
          tiny = q + 1 < last && q[1] == '-';
          break;
        }
      }
      d = tiny ? (neg ? -0.0 : 0.0)
               : (neg ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity());
    } else if (ec != std::errc() || p != last) {
      fail("invalid number");
    }
    return d;
  }

  std::string_view s_;
  std::string_view file_;
  size_t line_no_;
  JsonLineLimits limits_;
  size_t pos_ = 0;
};

void dump_string(std::string_view s, std::string& out) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          // Python's ensure_ascii escapes everything outside ' '..'~', DEL included.
          if (c < 0x20 || c == 0x7F) {
            out += fmt::format("\\u{:04x}", c);
          } else {
            out += static_cast<char>(c);
          }
      }
      continue;
    }
    const unsigned cp = decode_utf8(s, i);
    if (cp >= 0x10000) {
      const unsigned v = cp - 0x10000;
      out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
    } else {
      out += fmt::format("\\u{:04x}", cp);
    }
  }
  out += '"';
}

void dump_value(const json& v, JsonStyle style, std::string& out) {
  const char* item_sep = style == JsonStyle::row ? ", " : ",";
  const char* key_sep = style == JsonStyle::row ? ": " : ":";
  switch (v.type()) {
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.items()) {
        if (!first) out += item_sep;
        first = false;
        dump_string(key, out);
        out += key_sep;
        dump_value(item, style, out);
      }
      out += '}';
      break;
    }
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v) {
        if (!first) out += item_sep;
        first = false;
        dump_value(item, style, out);
      }
      out += ']';
      break;
    }
    case json::value_t::string:
      dump_string(v.get_ref<const std::string&>(), out);
      break;
    case json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      break;
    case json::value_t::number_integer:
      out += std::to_string(v.get<int64_t>());
      break;
    case json::value_t::number_unsigned:
      out += std::to_string(v.get<uint64_t>());
      break;
    case json::value_t::number_float:
      out += python_float_repr(v.get<double>());
      break;
    case json::value_t::null:
    case json::value_t::discarded:
    case json::value_t::binary:
      out += "null";
      break;
  }
}

}  // namespace

json parse_telemetry_line(std::string_view line, std::string_view file, size_t line_no,
                          const JsonLineLimits& limits) {
  return LineParser(line, file, line_no, limits).parse_document();
}

std::string dump_json(const json& value, JsonStyle style) {
  std::string out;
  dump_value(value, style, out);
  return out;
}

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  // Shortest round-trip digits in scientific form, e.g. "-1.2345e+02", then re-spelled the
  // way CPython's float_repr does: fixed notation when -4 <= exponent < 16, else scientific.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  (void)ec;  // 64 bytes always suffice for a double
  std::string_view sci(buf, static_cast<size_t>(end - buf));
  std::string sign;
  if (!sci.empty() && sci.front() == '-') {
    sign = "-";
    sci.remove_prefix(1);
  }
  const size_t epos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, epos)) {
    if (c != '.') digits += c;
  }
  int exponent = 0;
  std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  std::string out = sign;
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out += digits;
    } else {
      const size_t int_len = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_len) {
        out += digits;
        out.append(int_len - digits.size(), '0');
        out += ".0";
      } else {
        out += digits.substr(0, int_len);
        out += '.';
        out += digits.substr(int_len);
      }
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  }
  return out;
}

}  // namespace ctb
