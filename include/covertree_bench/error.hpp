#pragma once
// The library's bad-input error: one type for the installed API, the CLI (exit code 2) and the
// Python module (ValueError). Standard headers only.
#include <covertree_bench/export.hpp>
#include <stdexcept>
#include <string>

namespace ctb {

/// Bad input: the message names the input (file, option or argument) and the problem.
class CTB_API InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace ctb
