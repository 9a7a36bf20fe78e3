#include "data/npy.hpp"

#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string_view>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace ctb {

// Elements are copied as raw bytes, which is only right on a little-endian host.
static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

namespace {

constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
// numpy's own limit on dimensions; also keeps the shape text in error messages short.
constexpr size_t kMaxDims = 64;

size_t item_size(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::f8:
    case NpyDtype::i8:
      return 8;
    case NpyDtype::f4:
    case NpyDtype::i4:
      return 4;
  }
  return 8;
}

const char* dtype_name(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::f8:
      return "float64";
    case NpyDtype::f4:
      return "float32";
    case NpyDtype::i8:
      return "int64";
    case NpyDtype::i4:
      return "int32";
  }
  return "?";
}

std::string shape_text(const std::vector<size_t>& shape) {
  if (shape.empty()) return "scalar";
  std::string out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += 'x';
    out += std::to_string(shape[i]);
  }
  return out;
}

// Minimal reader of the Python dict literal numpy writes as the header, e.g.
// {'descr': '<f8', 'fortran_order': False, 'shape': (32768, 3), }
// Every read is bounds-checked against the header text; errors name the file.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : text_(text), name_(name) {}

  [[noreturn]] void fail(const std::string& problem) const {
    throw InputError(name_ + ": malformed header: " + problem + " (at offset " +
                     std::to_string(pos_) + " of header '" + printable() + "')");
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  void skip_padding() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  bool accept(char c) {
    skip_space();
    if (peek() != c) return false;
    ++pos_;
    return true;
  }

  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    ++pos_;
    const size_t start = pos_;
    while (!at_end() && text_[pos_] != quote) ++pos_;
    if (at_end()) fail("unterminated string");
    std::string out(text_.substr(start, pos_ - start));
    ++pos_;
    return out;
  }

  bool boolean_literal() {
    skip_space();
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }

  size_t dimension() {
    skip_space();
    if (peek() < '0' || peek() > '9') fail("expected a non-negative integer dimension");
    size_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      const size_t digit = static_cast<size_t>(peek() - '0');
      if (value > (std::numeric_limits<size_t>::max() - digit) / 10) {
        fail("dimension does not fit in 64 bits");
      }
      value = value * 10 + digit;
      ++pos_;
    }
    // Python 2 era files may write 3L.
    if (peek() == 'L') ++pos_;
    return value;
  }

  std::vector<size_t> shape_tuple() {
    expect('(');
    std::vector<size_t> shape;
    if (accept(')')) return shape;
    for (;;) {
      if (shape.size() == kMaxDims) fail("more than 64 dimensions");
      shape.push_back(dimension());
      if (accept(')')) return shape;
      expect(',');
      if (accept(')')) return shape;
    }
  }

  std::string skip_unsupported_value() {
    skip_space();
    const size_t start = pos_;
    int depth = 0;
    while (!at_end()) {
      const char c = text_[pos_];
      if (c == '[' || c == '(' || c == '{') ++depth;
      if (c == ']' || c == ')' || c == '}') {
        if (depth == 0) break;
        --depth;
      }
      if (c == ',' && depth == 0) break;
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }

 private:
  std::string printable() const {
    // The padding numpy adds is noise in a message.
    std::string_view shown = text_;
    while (!shown.empty() && (shown.back() == ' ' || shown.back() == '\n')) shown.remove_suffix(1);
    std::string out;
    for (char c : shown.substr(0, 200)) {
      out += (c >= 32 && c < 127) ? c : '?';
    }
    if (shown.size() > 200) out += "...";
    return out;
  }

  std::string_view text_;
  const std::string& name_;
  size_t pos_ = 0;
};

NpyDtype parse_descr(const std::string& descr, const std::string& name) {
  if (!descr.empty() && descr[0] == '>') {
    throw InputError(name + ": big-endian dtype '" + descr +
                     "' is not supported (convert with arr.astype(arr.dtype.newbyteorder('<')))");
  }
  if (descr == "<f8") return NpyDtype::f8;
  if (descr == "<f4") return NpyDtype::f4;
  if (descr == "<i8") return NpyDtype::i8;
  if (descr == "<i4") return NpyDtype::i4;
  throw InputError(name + ": unsupported dtype '" + descr +
                   "' (supported: '<f8', '<f4', '<i8', '<i4')");
}

struct Header {
  NpyDtype dtype;
  std::vector<size_t> shape;
};

Header parse_header(std::string_view text, const std::string& name) {
  HeaderParser p(text, name);
  std::optional<NpyDtype> dtype;
  std::optional<bool> fortran_order;
  std::optional<std::vector<size_t>> shape;
  p.expect('{');
  while (!p.accept('}')) {
    const std::string key = p.string_literal();
    p.expect(':');
    if (key == "descr") {
      p.skip_space();
      if (p.peek() != '\'' && p.peek() != '"') {
        throw InputError(name + ": unsupported dtype: structured descr " +
                         p.skip_unsupported_value() + " (supported: '<f8', '<f4', '<i8', '<i4')");
      }
      dtype = parse_descr(p.string_literal(), name);
    } else if (key == "fortran_order") {
      fortran_order = p.boolean_literal();
    } else if (key == "shape") {
      shape = p.shape_tuple();
    } else {
      p.fail("unexpected key '" + key + "'");
    }
    if (!p.accept(',')) {
      p.expect('}');
      break;
    }
  }
  // numpy pads with spaces and ends with '\n'; anything else after the dict is corruption.
  p.skip_padding();
  if (!p.at_end()) p.fail("unexpected text after the header dict");
  if (!dtype) p.fail("missing key 'descr'");
  if (!fortran_order) p.fail("missing key 'fortran_order'");
  if (!shape) p.fail("missing key 'shape'");
  if (*fortran_order) {
    throw InputError(name +
                     ": Fortran-order arrays are not supported (save with C order, e.g. "
                     "np.save(path, np.ascontiguousarray(arr)))");
  }
  return Header{*dtype, std::move(*shape)};
}

uint32_t load_le(const unsigned char* p, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

template <typename T>
T load_element(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

size_t NpyArray::size() const {
  size_t n = 1;
  for (size_t d : shape) n *= d;
  return n;
}

std::vector<double> NpyArray::as_f64() const {
  const size_t n = bytes.size() / item_size(dtype);
  std::vector<double> out(n);
  const unsigned char* p = bytes.data();
  for (size_t i = 0; i < n; ++i) {
    switch (dtype) {
      case NpyDtype::f8:
        out[i] = load_element<double>(p + 8 * i);
        break;
      case NpyDtype::f4:
        out[i] = static_cast<double>(load_element<float>(p + 4 * i));
        break;
      case NpyDtype::i8:
        out[i] = static_cast<double>(load_element<int64_t>(p + 8 * i));
        break;
      case NpyDtype::i4:
        out[i] = static_cast<double>(load_element<int32_t>(p + 4 * i));
        break;
    }
  }
  return out;
}

std::vector<int64_t> NpyArray::as_i64(const std::string& what) const {
  if (dtype != NpyDtype::i8 && dtype != NpyDtype::i4) {
    throw InputError(what + ": expected an integer array (int64 or int32), got " +
                     dtype_name(dtype));
  }
  const size_t n = bytes.size() / item_size(dtype);
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = dtype == NpyDtype::i8 ? load_element<int64_t>(bytes.data() + 8 * i)
                                   : load_element<int32_t>(bytes.data() + 4 * i);
  }
  return out;
}

NpyArray parse_npy(const unsigned char* data, size_t size, const std::string& name) {
  if (size < sizeof kMagic || std::memcmp(data, kMagic, sizeof kMagic) != 0) {
    throw InputError(name + ": not a .npy file (bad magic; expected \\x93NUMPY)");
  }
  if (size < 8) throw InputError(name + ": truncated: file ends inside the format version");
  const unsigned major = data[6];
  const unsigned minor = data[7];
  if (major < 1 || major > 3 || minor != 0) {
    throw InputError(name + ": unsupported .npy format version " + std::to_string(major) + "." +
                     std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  }
  // Version 1 has a 2-byte header length, versions 2 and 3 a 4-byte one.
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t prefix = 8 + len_bytes;
  if (size < prefix) throw InputError(name + ": truncated: file ends inside the header length");
  const size_t header_len = load_le(data + 8, len_bytes);
  if (header_len > size - prefix) {
    throw InputError(name + ": truncated header: header length is " + std::to_string(header_len) +
                     " bytes but only " + std::to_string(size - prefix) +
                     " bytes follow the preamble");
  }
  const std::string_view header_text(reinterpret_cast<const char*>(data + prefix), header_len);
  Header header = parse_header(header_text, name);

  const size_t item = item_size(header.dtype);
  size_t count = 1;
  for (size_t d : header.shape) {
    if (d != 0 && count > std::numeric_limits<size_t>::max() / d) {
      throw InputError(name + ": shape " + shape_text(header.shape) +
                       " is too large (element count overflows 64 bits)");
    }
    count *= d;
  }
  if (count > std::numeric_limits<size_t>::max() / item) {
    throw InputError(name + ": shape " + shape_text(header.shape) + " " + dtype_name(header.dtype) +
                     " is too large (byte count overflows 64 bits)");
  }
  const size_t data_bytes = count * item;
  const size_t offset = prefix + header_len;
  const size_t available = size - offset;
  if (available < data_bytes) {
    throw InputError(name + ": truncated: header says " + shape_text(header.shape) + " " +
                     dtype_name(header.dtype) + " (" + std::to_string(data_bytes) +
                     " bytes) but file has " + std::to_string(available) +
                     " bytes of data after the " + std::to_string(offset) + "-byte header");
  }
  if (available > data_bytes) {
    throw InputError(name + ": size mismatch: header says " + shape_text(header.shape) + " " +
                     dtype_name(header.dtype) + " (" + std::to_string(data_bytes) +
                     " bytes) but file has " + std::to_string(available) +
                     " bytes of data (trailing garbage)");
  }
  NpyArray out;
  out.dtype = header.dtype;
  out.shape = std::move(header.shape);
  out.bytes.assign(data + offset, data + size);
  return out;
}

NpyArray read_npy(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(name + ": cannot open for reading (missing or unreadable)");
  std::vector<unsigned char> content((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError(name + ": read error");
  return parse_npy(content.data(), content.size(), name);
}

namespace {

void write_npy_bytes(const std::filesystem::path& path, const std::vector<size_t>& shape,
                     const char* descr, const void* values, size_t item) {
  const std::string name = path.string();
  size_t count = 1;
  for (size_t d : shape) {
    if (d != 0 && count > std::numeric_limits<size_t>::max() / item / d) {
      throw InputError(name + ": cannot write shape " + shape_text(shape) + ": too large");
    }
    count *= d;
  }
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  // A 1-tuple needs its trailing comma to be a tuple in Python.
  if (shape.size() == 1) dict += ',';
  dict += "), }";
  // Like numpy: pad with spaces so the data starts on a 64-byte boundary; end with '\n'.
  const size_t preamble = 10;
  size_t total = preamble + dict.size() + 1;
  const size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  if (dict.size() > std::numeric_limits<uint16_t>::max()) {
    throw InputError(name + ": cannot write shape " + shape_text(shape) +
                     ": header too long for format 1.0");
  }
  std::string content;
  content.reserve(preamble + dict.size() + count * item);
  content.append(reinterpret_cast<const char*>(kMagic), sizeof kMagic);
  content += '\x01';
  content += '\x00';
  content += static_cast<char>(dict.size() & 0xFF);
  content += static_cast<char>(dict.size() >> 8);
  content += dict;
  if (count > 0) content.append(static_cast<const char*>(values), count * item);
  write_file_atomic(path, content);
}

}  // namespace

void write_npy(const std::filesystem::path& path, const std::vector<size_t>& shape,
               const double* values) {
  write_npy_bytes(path, shape, "<f8", values, sizeof(double));
}

void write_npy(const std::filesystem::path& path, const std::vector<size_t>& shape,
               const int64_t* values) {
  write_npy_bytes(path, shape, "<i8", values, sizeof(int64_t));
}

}  // namespace ctb
