// OutputLock: a second writer of the same whole-file output fails at once instead of one
// silently replacing the other; the lock file goes away with the lock.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>

#include "common/temp_dir.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace ctb {
namespace {

TEST(OutputLock, SecondHolderFailsNamingTheFileAndTheHolder) {
  test_support::TempDir dir;
  const auto target = dir.path() / "baseline.json";
  std::optional<OutputLock> first;
  first.emplace(target);
  EXPECT_TRUE(std::filesystem::exists(first->lock_path()));
  EXPECT_EQ(std::filesystem::path(first->lock_path()).filename(), ".baseline.json.lock");
  try {
    OutputLock second(target);
    ADD_FAILURE() << "second lock taken while the first is held";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(target.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("pid " + std::to_string(::getpid())), std::string::npos) << msg;
  }
  const std::string lock_path = first->lock_path();
  first.reset();
  EXPECT_FALSE(std::filesystem::exists(lock_path));
  OutputLock again(target);  // free again
  // A different output in the same directory is not blocked.
  OutputLock other(dir.path() / "other.json");
}

TEST(OutputLock, UnwritableDirectoryIsAnInputError) {
  EXPECT_THROW(OutputLock("/nonexistent-dir-for-test/x.json"), InputError);
}

}  // namespace
}  // namespace ctb
