#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "data/npy.hpp"

namespace ctb {
namespace {

namespace fs = std::filesystem;

// A .npy image with an arbitrary header text (padded like numpy) and payload.
std::vector<unsigned char> make_npy(const std::string& dict, const std::string& payload,
                                    int major = 1) {
  const size_t len_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  const size_t unpadded = 8 + len_bytes + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < len_bytes; ++i)
    out += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  out += header;
  out += payload;
  return std::vector<unsigned char>(out.begin(), out.end());
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape + ", }";
}

class NpyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ctb_test_npy_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(NpyFiles, RoundTripFloat64) {
  const std::vector<double> values = {1.5, -0.0, 1e-300, 3.141592653589793, -2.0, 7.0};
  const fs::path path = dir_ / "x.npy";
  write_npy(path, {2, 3}, values.data());
  const NpyArray a = read_npy(path);
  EXPECT_EQ(a.dtype, NpyDtype::f8);
  EXPECT_EQ(a.shape, (std::vector<size_t>{2, 3}));
  EXPECT_EQ(a.size(), 6u);
  const std::vector<double> back = a.as_f64();
  ASSERT_EQ(back.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(std::bit_cast<uint64_t>(back[i]), std::bit_cast<uint64_t>(values[i]));
  }
  EXPECT_THROW(a.as_i64("x.npy"), InputError);
}

TEST_F(NpyFiles, RoundTripInt64AndHeaderLayout) {
  const std::vector<int64_t> values = {INT64_MIN, -1, 0, 1, INT64_MAX};
  const fs::path path = dir_ / "i.npy";
  write_npy(path, {5}, values.data());
  EXPECT_EQ(read_npy(path).as_i64("i.npy"), values);
  // numpy's layout: version 1.0, data 64-byte aligned, header ends with '\n', 1-tuple comma.
  std::ifstream in(path, std::ios::binary);
  const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(content.size(), 64u + 40u);
  EXPECT_EQ(content.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_len = static_cast<unsigned char>(content[8]) |
                            (static_cast<size_t>(static_cast<unsigned char>(content[9])) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(content[10 + header_len - 1], '\n');
  EXPECT_NE(content.find("{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"),
            std::string::npos);
  EXPECT_EQ(content.size(), 10 + header_len + 40);
}

TEST_F(NpyFiles, RoundTripScalarAndEmptyShapes) {
  const double one = 42.0;
  write_npy(dir_ / "s.npy", {}, &one);
  const NpyArray s = read_npy(dir_ / "s.npy");
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.as_f64(), (std::vector<double>{42.0}));

  write_npy(dir_ / "e.npy", {0, 3}, static_cast<const double*>(nullptr));
  const NpyArray e = read_npy(dir_ / "e.npy");
  EXPECT_EQ(e.shape, (std::vector<size_t>{0, 3}));
  EXPECT_EQ(e.size(), 0u);
  EXPECT_TRUE(e.bytes.empty());
}

TEST_F(NpyFiles, WriteReplacesExistingFile) {
  const std::vector<double> a = {1, 2, 3}, b = {4, 5};
  write_npy(dir_ / "r.npy", {3}, a.data());
  write_npy(dir_ / "r.npy", {2}, b.data());
  EXPECT_EQ(read_npy(dir_ / "r.npy").as_f64(), b);
}

TEST_F(NpyFiles, MissingFileNamesThePath) {
  try {
    read_npy(dir_ / "absent.npy");
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.npy"), std::string::npos) << e.what();
  }
}

TEST(Npy, EveryDtype) {
  const std::vector<float> f4 = {1.5f, -2.25f, 3.0e10f};
  NpyArray a = parse_npy(make_npy(dict("<f4", "(3,)"), raw(f4)).data(),
                         make_npy(dict("<f4", "(3,)"), raw(f4)).size(), "f4.npy");
  EXPECT_EQ(a.dtype, NpyDtype::f4);
  EXPECT_EQ(a.as_f64(), (std::vector<double>{1.5, -2.25, static_cast<double>(3.0e10f)}));

  const std::vector<int32_t> i4 = {-7, 0, 2147483647, -2147483647 - 1};
  const auto i4_file = make_npy(dict("<i4", "(2, 2)"), raw(i4));
  a = parse_npy(i4_file.data(), i4_file.size(), "i4.npy");
  EXPECT_EQ(a.dtype, NpyDtype::i4);
  EXPECT_EQ(a.shape, (std::vector<size_t>{2, 2}));
  EXPECT_EQ(a.as_i64("i4.npy"), (std::vector<int64_t>{-7, 0, 2147483647, -2147483648LL}));
  EXPECT_EQ(a.as_f64(), (std::vector<double>{-7, 0, 2147483647, -2147483648.0}));

  const std::vector<int64_t> i8 = {int64_t{1} << 40, -3};
  const auto i8_file = make_npy(dict("<i8", "(2,)"), raw(i8));
  a = parse_npy(i8_file.data(), i8_file.size(), "i8.npy");
  EXPECT_EQ(a.dtype, NpyDtype::i8);
  EXPECT_EQ(a.as_i64("i8.npy"), i8);
  EXPECT_EQ(a.as_f64(), (std::vector<double>{1099511627776.0, -3.0}));
}

TEST(Npy, Version2And3Headers) {
  const std::vector<double> v = {0.5, 0.25};
  for (int major : {2, 3}) {
    const auto file = make_npy(dict("<f8", "(1, 2)"), raw(v), major);
    const NpyArray a = parse_npy(file.data(), file.size(), "v.npy");
    EXPECT_EQ(a.shape, (std::vector<size_t>{1, 2})) << "version " << major;
    EXPECT_EQ(a.as_f64(), v) << "version " << major;
  }
}

TEST(Npy, HeaderVariantsNumpyMayWrite) {
  const std::vector<double> v = {1, 2, 3, 4, 5, 6};
  // Key order, double quotes, no trailing comma, no spaces, Python-2 long suffix.
  for (const std::string& d :
       {std::string("{'shape': (2, 3), 'fortran_order': False, 'descr': '<f8'}"),
        std::string("{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (2, 3)}"),
        std::string("{'descr':'<f8','fortran_order':False,'shape':(2,3,),}"),
        std::string("{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L), }")}) {
    const auto file = make_npy(d, raw(v));
    const NpyArray a = parse_npy(file.data(), file.size(), "h.npy");
    EXPECT_EQ(a.shape, (std::vector<size_t>{2, 3})) << d;
  }
}

struct Malformed {
  const char* what;
  std::vector<unsigned char> bytes;
  const char* expected;  // substring of the message
};

std::vector<unsigned char> with_version(std::vector<unsigned char> f, int major, int minor) {
  f[6] = static_cast<unsigned char>(major);
  f[7] = static_cast<unsigned char>(minor);
  return f;
}

std::vector<unsigned char> prefix(const std::vector<unsigned char>& f, size_t n) {
  return std::vector<unsigned char>(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
}

TEST(Npy, MalformedInputsAreInputErrorsNamingFileAndProblem) {
  const std::vector<double> six = {1, 2, 3, 4, 5, 6};
  const auto good = make_npy(dict("<f8", "(2, 3)"), raw(six));
  std::vector<unsigned char> bad_magic = good;
  bad_magic[1] = 'X';
  std::vector<unsigned char> huge_header_len = good;
  huge_header_len[8] = 0xFF;
  huge_header_len[9] = 0xFF;
  auto trailing = good;
  trailing.push_back(0);

  const std::vector<Malformed> cases = {
      {"empty file", {}, "bad magic"},
      {"bad magic", bad_magic, "bad magic"},
      {"text file", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'}, "bad magic"},
      {"ends in version", prefix(good, 7), "truncated"},
      {"ends in header length", prefix(good, 9), "truncated"},
      {"truncated header", prefix(good, 40), "truncated header"},
      {"header length beyond file", huge_header_len, "truncated header"},
      {"truncated data", prefix(good, good.size() - 1),
       "truncated: header says 2x3 float64 (48 bytes)"},
      {"no data", prefix(good, good.size() - 48), "truncated"},
      {"trailing bytes", trailing, "size mismatch"},
      {"version 4.0", with_version(good, 4, 0), "unsupported .npy format version 4.0"},
      {"version 1.1", with_version(good, 1, 1), "unsupported .npy format version 1.1"},
      {"Fortran order", make_npy(dict("<f8", "(2, 3)", true), raw(six)), "Fortran"},
      {"big-endian", make_npy(dict(">f8", "(2, 3)"), raw(six)), "big-endian"},
      {"unknown dtype", make_npy(dict("<u2", "(24,)"), raw(six)), "unsupported dtype '<u2'"},
      {"bool dtype", make_npy(dict("|b1", "(48,)"), raw(six)), "unsupported dtype '|b1'"},
      {"object dtype", make_npy(dict("|O", "(6,)"), raw(six)), "unsupported dtype '|O'"},
      {"structured dtype",
       make_npy("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (6,), }", raw(six)),
       "unsupported dtype"},
      {"element count overflow", make_npy(dict("<f8", "(4294967296, 4294967296)"), raw(six)),
       "too large"},
      {"byte count overflow", make_npy(dict("<f8", "(4611686018427387904,)"), raw(six)),
       "too large"},
      {"dimension overflow", make_npy(dict("<f8", "(99999999999999999999999,)"), raw(six)),
       "does not fit"},
      {"huge but representable shape", make_npy(dict("<f8", "(1000000000, 1000)"), raw(six)),
       "truncated: header says 1000000000x1000 float64"},
      {"negative dimension", make_npy(dict("<f8", "(-6,)"), raw(six)), "dimension"},
      {"missing shape", make_npy("{'descr': '<f8', 'fortran_order': False}", raw(six)),
       "missing key 'shape'"},
      {"missing descr", make_npy("{'fortran_order': False, 'shape': (6,)}", raw(six)),
       "missing key 'descr'"},
      {"unknown key",
       make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (6,), 'x': 1}", raw(six)),
       "unexpected key 'x'"},
      {"unterminated string", make_npy("{'descr': '<f8", raw(six)), "unterminated string"},
      {"garbage after dict", make_npy(dict("<f8", "(6,)") + " xyz", raw(six)), "unexpected text"},
      {"not a dict", make_npy("[1, 2, 3]", raw(six)), "expected '{'"},
      {"bad fortran_order",
       make_npy("{'descr': '<f8', 'fortran_order': 0, 'shape': (6,)}", raw(six)), "True or False"},
      {"shape not a tuple",
       make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': 6}", raw(six)), "expected '('"},
      {"too many dimensions",
       make_npy(dict(
                    "<f8", "(" +
                               [] {
                                 std::string s;
                                 for (int i = 0; i < 65; ++i) s += "1, ";
                                 return s;
                               }() +
                               ")"),
                raw(six)),
       "more than 64 dimensions"},
  };
  for (const Malformed& c : cases) {
    try {
      (void)parse_npy(c.bytes.data(), c.bytes.size(), "bad_input.npy");
      ADD_FAILURE() << c.what << ": no exception";
    } catch (const InputError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("bad_input.npy: ", 0), 0u) << c.what << ": " << msg;
      EXPECT_NE(msg.find(c.expected), std::string::npos)
          << c.what << ": expected '" << c.expected << "' in: " << msg;
    }
  }
}

// parse_npy is fed untrusted bytes (and fuzzed): every prefix and every single-byte corruption
// of a valid file must either parse or throw InputError, never crash or over-read (ASan).
TEST(Npy, EveryPrefixAndByteFlipIsHandled) {
  const std::vector<int32_t> values = {1, 2, 3, 4};
  const auto good = make_npy(dict("<i4", "(2, 2)"), raw(values));
  for (size_t n = 0; n < good.size(); ++n) {
    // Copy into an exactly-sized buffer so ASan catches any read past the end.
    const std::vector<unsigned char> part = prefix(good, n);
    EXPECT_THROW((void)parse_npy(part.data(), part.size(), "p.npy"), InputError) << n;
  }
  for (size_t i = 0; i < good.size(); ++i) {
    for (unsigned char v : {0x00, 0x20, 0x27, 0x29, 0x2c, 0x7b, 0x7d, 0xff}) {
      std::vector<unsigned char> bent = good;
      bent[i] = v;
      try {
        (void)parse_npy(bent.data(), bent.size(), "f.npy");
      } catch (const InputError&) {
      }
    }
  }
}

}  // namespace
}  // namespace ctb
