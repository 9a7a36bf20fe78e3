#pragma once
// Errors that map to the tool's exit codes: InputError -> 2 (bad input or usage),
// CheckFailed -> 1 (a check ran and failed). Anything else escaping to main is a bug.
#include <stdexcept>
#include <string>

// InputError (bad input: the message names the file, the field and the problem; exit code 2)
// is part of the installed API.
#include <covertree_bench/error.hpp>

namespace ctb {

/// A check ran and failed (exactness, invariants, gate). Exit code 1.
class CheckFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum ExitCode : int { kExitOk = 0, kExitCheckFailed = 1, kExitBadInput = 2, kExitInconclusive = 3 };

}  // namespace ctb
