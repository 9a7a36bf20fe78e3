// The exactness rules of spec §2 as the audit applies them: what counts as an error and what is
// explained by a tie.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "audit/compare.hpp"
#include "audit_test_util.hpp"

namespace ctb::audit {
namespace {

using audit_test::answer;
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(CompareKnn, IdenticalAnswersAreExact) {
  const KnnResult a = answer({{{3, 0.0}, {7, 0.25}, {1, 0.5}}, {{2, 0.0}, {9, 0.1}, {4, 0.3}}});
  const KnnComparison c = compare_knn(a, a, kSameKernelTolerance);
  EXPECT_TRUE(c.exact());
  EXPECT_EQ(c.recall(), 1.0);
  EXPECT_EQ(c.max_distance_error, 0.0);
  EXPECT_EQ(c.rank_mismatches, 0u);
  EXPECT_EQ(c.set_differences, 0u);
}

TEST(CompareKnn, DistanceErrorBeyondToleranceFails) {
  const KnnResult truth = answer({{{3, 0.0}, {7, 0.25}, {1, 0.5}}});
  const KnnResult got = answer({{{3, 0.0}, {7, 0.25 + 1e-10}, {1, 0.5}}});
  const KnnComparison strict = compare_knn(got, truth, kSameKernelTolerance);
  EXPECT_FALSE(strict.exact());
  EXPECT_EQ(strict.distance_violations, 1u);
  EXPECT_NEAR(strict.max_distance_error, 1e-10, 1e-15);
  EXPECT_NE(strict.first_problem.find("rank 1"), std::string::npos) << strict.first_problem;
  // The same difference is within the cross-implementation rule.
  EXPECT_TRUE(compare_knn(got, truth, kCrossImplementationTolerance).exact());
}

TEST(CompareKnn, SwapAtEqualDistancesIsATieNotAnError) {
  // Two neighbours at the same distance up to rounding, ordered differently.
  const KnnResult truth = answer({{{3, 0.0}, {7, 0.25}, {5, 0.25 + 1e-14}, {1, 0.5}}});
  const KnnResult got = answer({{{3, 0.0}, {5, 0.25 + 1e-14}, {7, 0.25}, {1, 0.5}}});
  const KnnComparison c = compare_knn(got, truth, kSameKernelTolerance);
  EXPECT_TRUE(c.exact()) << c.first_problem;
  EXPECT_EQ(c.rank_mismatches, 2u);
  EXPECT_EQ(c.rank_mismatches_explained, 2u);
  EXPECT_EQ(c.recall(), 1.0);
}

TEST(CompareKnn, BoundaryTieAtTheKthDistanceIsExplained) {
  // Index 8 and 9 tie (within rounding) for the last slot; each side kept a different one.
  const KnnResult truth = answer({{{3, 0.0}, {7, 0.25}, {8, 0.5}}});
  const KnnResult got = answer({{{3, 0.0}, {7, 0.25}, {9, 0.5 + 5e-13}}});
  const KnnComparison c = compare_knn(got, truth, kSameKernelTolerance);
  EXPECT_TRUE(c.exact()) << c.first_problem;
  EXPECT_EQ(c.set_differences, 2u);
  EXPECT_EQ(c.set_differences_explained, 2u);
  EXPECT_NEAR(c.recall(), 2.0 / 3.0, 1e-15);
}

TEST(CompareKnn, MissingCloseNeighbourIsAnError) {
  // Index 7 at 0.25 is missed; the answer takes 9, which is not tied with the k-th.
  const KnnResult truth = answer({{{3, 0.0}, {7, 0.25}, {8, 0.5}}});
  const KnnResult got = answer({{{3, 0.0}, {8, 0.5}, {9, 0.6}}});
  const KnnComparison c = compare_knn(got, truth, kCrossImplementationTolerance);
  EXPECT_FALSE(c.exact());
  EXPECT_GT(c.set_differences_unexplained(), 0u);
  EXPECT_EQ(c.first_bad_query, 0u);
  EXPECT_NE(c.first_problem.find("query 0"), std::string::npos) << c.first_problem;
}

TEST(CompareKnn, CrossRuleAllowsIndexDifferencesOnlyNearTheKth) {
  const KnnResult truth = answer({{{3, 0.0}, {7, 0.25}, {8, 0.5}}});
  // 9 replaces 8 at a distance within 1e-6 of the k-th: allowed across implementations.
  const KnnResult near = answer({{{3, 0.0}, {7, 0.25}, {9, 0.5 + 4e-7}}});
  EXPECT_TRUE(compare_knn(near, truth, kCrossImplementationTolerance).exact());
  // ... but not 1e-5 away.
  const KnnResult far = answer({{{3, 0.0}, {7, 0.25}, {9, 0.5 + 1e-5}}});
  EXPECT_FALSE(compare_knn(far, truth, kCrossImplementationTolerance).exact());
}

TEST(CompareKnn, PaddingOnBothSidesIsEqual) {
  const KnnResult truth = answer({{{0, 0.0}, {-1, kInf}, {-1, kInf}}});
  EXPECT_TRUE(compare_knn(truth, truth, kSameKernelTolerance).exact());
  const KnnResult got = answer({{{0, 0.0}, {4, 0.9}, {-1, kInf}}});
  const KnnComparison c = compare_knn(got, truth, kSameKernelTolerance);
  EXPECT_FALSE(c.exact());
  EXPECT_TRUE(std::isinf(c.max_distance_error));
}

TEST(CompareKnn, NaNDistanceIsAnError) {
  const KnnResult truth = answer({{{0, 0.0}, {4, 0.9}}});
  const KnnResult got = answer({{{0, 0.0}, {4, std::nan("")}}});
  const KnnComparison c = compare_knn(got, truth, kCrossImplementationTolerance);
  EXPECT_FALSE(c.exact());
  EXPECT_TRUE(std::isinf(c.max_distance_error));
}

TEST(CompareKnn, ShapeMismatchIsReported) {
  const KnnResult a = answer({{{0, 0.0}, {4, 0.9}}});
  const KnnResult b = answer({{{0, 0.0}}});
  const KnnComparison c = compare_knn(a, b, kSameKernelTolerance);
  EXPECT_FALSE(c.shape_ok);
  EXPECT_FALSE(c.exact());
  EXPECT_NE(c.shape_problem.find("1 x 2"), std::string::npos) << c.shape_problem;
}

TEST(WellFormed, AcceptsSortedRowsWithPadding) {
  const KnnResult a = answer({{{3, 0.0}, {1, 0.5}, {2, 0.5}, {-1, kInf}}});
  std::string example;
  EXPECT_EQ(check_well_formed(a, 10, &example), 0u) << example;
}

TEST(WellFormed, NamesEachKindOfProblem) {
  struct Case {
    KnnResult answer;
    const char* expect;
  };
  const Case cases[] = {
      {answer({{{3, 0.5}, {1, 0.25}}}), "order"},
      {answer({{{2, 0.5}, {1, 0.5}}}), "order"},  // equal distances: lower index first
      {answer({{{3, 0.0}, {3, 0.5}}}), "twice"},
      {answer({{{3, 0.0}, {10, 0.5}}}), "outside"},
      {answer({{{-1, kInf}, {1, 0.5}}}), "after -1 padding"},
      {answer({{{3, std::nan("")}, {1, 0.5}}}), "distance"},
  };
  for (const Case& c : cases) {
    std::string example;
    EXPECT_EQ(check_well_formed(c.answer, 10, &example), 1u) << c.expect;
    EXPECT_NE(example.find(c.expect), std::string::npos) << example;
  }
}

TEST(SortRows, SortsByDistanceThenIndexWithPaddingLast) {
  KnnResult a = answer({{{-1, kInf}, {5, 0.5}, {2, 0.5}, {7, 0.1}}});
  sort_rows(a);
  EXPECT_EQ(a.indices, (std::vector<int64_t>{7, 2, 5, -1}));
  EXPECT_EQ(a.distances[0], 0.1);
  EXPECT_TRUE(std::isinf(a.distances[3]));
}

}  // namespace
}  // namespace ctb::audit
