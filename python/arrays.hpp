#pragma once
// NumPy arrays in and out of the module. In: float64 or float32 arrays, C or Fortran order,
// seen as row-major doubles (a view when the array already is C-ordered float64, else one
// converted copy). Out: the library's result vectors handed to NumPy without a copy.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ctb::python {

namespace py = pybind11;

/// A float array as row-major doubles; `values` points into `array`, which it keeps alive.
struct Doubles {
  py::array_t<double, py::array::c_style> array;
  std::vector<size_t> shape;
  std::span<const double> values;
};

/// `obj` (an array or a nested sequence) as doubles. Raises TypeError (message naming
/// `label`) unless its dtype is float64 or float32.
Doubles as_doubles(const py::handle& obj, const std::string& label);

/// `obj` as int64 indices (any integer dtype; 1-D, or 2-D with one column as covertreex
/// accepts). Raises TypeError for non-integer dtypes, ValueError for other shapes.
std::vector<int64_t> as_indices(const py::handle& obj, const std::string& label);

/// A rows x cols NumPy array owning `values` (moved, not copied). Needs the GIL.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& values, size_t rows, size_t cols) {
  auto* owned = new std::vector<T>(std::move(values));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({rows, cols}, owned->data(), owner);
}

/// The shape as Python prints it, e.g. "(5, 2)", for messages.
std::string shape_string(std::span<const size_t> shape);

}  // namespace ctb::python
