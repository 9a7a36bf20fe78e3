#pragma once
// NumPy .npy files (format 1.0/2.0/3.0, little-endian, C order): read float64, float32, int64
// (and int32) arrays; write float64 and int64 atomically.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ctb {

enum class NpyDtype { f8, f4, i8, i4 };

/// A loaded array: its dtype, shape and raw little-endian bytes.
struct NpyArray {
  NpyDtype dtype = NpyDtype::f8;
  std::vector<size_t> shape;
  std::vector<unsigned char> bytes;

  size_t size() const;  // number of elements
  /// Elements converted to double (f8 exactly, f4 widened, integers converted).
  std::vector<double> as_f64() const;
  /// Elements as int64 (integer dtypes only; throws InputError for floats).
  std::vector<int64_t> as_i64(const std::string& what) const;
};

/// Reads `path`. Throws InputError naming the file and the problem (missing, truncated,
/// unsupported dtype, Fortran order, big-endian, header malformed, size mismatch).
NpyArray read_npy(const std::filesystem::path& path);
/// Parses an in-memory .npy image; `name` is used in error messages.
NpyArray parse_npy(const unsigned char* data, size_t size, const std::string& name);

/// Writes an array atomically (temp file, then rename).
void write_npy(const std::filesystem::path& path, const std::vector<size_t>& shape,
               const double* values);
void write_npy(const std::filesystem::path& path, const std::vector<size_t>& shape,
               const int64_t* values);

}  // namespace ctb
