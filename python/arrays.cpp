#include "arrays.hpp"

#include <fmt/format.h>

namespace ctb::python {

namespace {

std::vector<size_t> shape_of(const py::array& a) {
  std::vector<size_t> shape(static_cast<size_t>(a.ndim()));
  for (size_t i = 0; i < shape.size(); ++i) shape[i] = static_cast<size_t>(a.shape(i));
  return shape;
}

std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

}  // namespace

std::string shape_string(std::span<const size_t> shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

Doubles as_doubles(const py::handle& obj, const std::string& label) {
  const py::array any = py::array::ensure(obj);
  if (!any) throw py::type_error(label + " must be a NumPy array of float64 or float32");
  const char kind = any.dtype().kind();
  const auto size = any.dtype().itemsize();
  if (kind != 'f' || (size != 8 && size != 4)) {
    throw py::type_error(
        fmt::format("{} must be float64 or float32 (got {})", label, dtype_name(any)));
  }
  Doubles out;
  // No copy when the array already is C-ordered native float64; otherwise NumPy converts once.
  out.array = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(any);
  if (!out.array) throw py::error_already_set();
  out.shape = shape_of(out.array);
  out.values = std::span<const double>(out.array.data(), static_cast<size_t>(out.array.size()));
  return out;
}

std::vector<int64_t> as_indices(const py::handle& obj, const std::string& label) {
  const py::array any = py::array::ensure(obj);
  if (!any) throw py::type_error(label + " must be a NumPy array of integer dataset indices");
  const char kind = any.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw py::type_error(
        fmt::format("{} must be integer dataset indices (got {})", label, dtype_name(any)));
  }
  const std::vector<size_t> shape = shape_of(any);
  if (!(shape.size() == 1 || (shape.size() == 2 && shape[1] == 1))) {
    throw py::value_error(fmt::format("{} must be a 1-D array of dataset indices, got shape {}",
                                      label, shape_string(shape)));
  }
  const auto ids = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(any);
  if (!ids) throw py::error_already_set();
  return std::vector<int64_t>(ids.data(), ids.data() + ids.size());
}

}  // namespace ctb::python
