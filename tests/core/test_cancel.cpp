// CancelToken in parallel_for: a set token stops the loop before its next task and surfaces as
// Cancelled on the calling thread; no token (or an unset one) runs every task.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "core/cancel.hpp"
#include "core/parallel.hpp"

namespace ctb {
namespace {

TEST(Cancel, UnsetOrNullTokenRunsEveryTask) {
  for (const int threads : {1, 3}) {
    CancelToken token;
    std::vector<int> hits(100, 0);
    parallel_for(hits.size(), threads, &token, [&](size_t t, int) { ++hits[t]; });
    for (const int h : hits) EXPECT_EQ(h, 1);
    parallel_for(hits.size(), threads, nullptr, [&](size_t t, int) { ++hits[t]; });
    for (const int h : hits) EXPECT_EQ(h, 2);
  }
}

TEST(Cancel, SetTokenStopsBeforeTheNextTask) {
  for (const int threads : {1, 3}) {
    CancelToken token;
    std::atomic<size_t> ran{0};
    EXPECT_THROW(parallel_for(1000, threads, &token,
                              [&](size_t t, int) {
                                ++ran;
                                if (t == 10) token.cancel();
                              }),
                 Cancelled);
    // Task 10 set the token; each worker finishes at most the task it was running.
    EXPECT_GE(ran.load(), 11u);
    EXPECT_LE(ran.load(), 11u + static_cast<size_t>(threads));
  }
}

TEST(Cancel, AlreadySetTokenRunsNothing) {
  CancelToken token;
  token.cancel();
  EXPECT_TRUE(token.cancelled());
  size_t ran = 0;
  EXPECT_THROW(parallel_for(5, 1, &token, [&](size_t, int) { ++ran; }), Cancelled);
  EXPECT_EQ(ran, 0u);
  EXPECT_THROW(throw_if_cancelled(&token), Cancelled);
  EXPECT_NO_THROW(throw_if_cancelled(nullptr));
}

}  // namespace
}  // namespace ctb
