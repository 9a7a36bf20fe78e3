// libFuzzer target: the NPY reader on an in-memory image, then the element conversions. Any
// input must end in an array or an InputError.
#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "data/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const ctb::NpyArray a = ctb::parse_npy(data, size, "fuzz.npy");
    // The header's shape must account for exactly the bytes that were kept.
    size_t item = (a.dtype == ctb::NpyDtype::f8 || a.dtype == ctb::NpyDtype::i8) ? 8 : 4;
    if (a.size() * item != a.bytes.size()) __builtin_trap();
    if (a.as_f64().size() != a.size()) __builtin_trap();
    if (a.dtype == ctb::NpyDtype::i8 || a.dtype == ctb::NpyDtype::i4) {
      if (a.as_i64("fuzz").size() != a.size()) __builtin_trap();
    }
  } catch (const ctb::InputError&) {
  }
  return 0;
}
