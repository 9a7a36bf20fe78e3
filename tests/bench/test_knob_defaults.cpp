// One default per knob: a scenario that sets nothing but its required fields flows into every
// index's params equal to those params' own defaults, field by field. A default changed in one
// struct and not in the schema (or the reverse) fails here, naming the knob.
#include <gtest/gtest.h>

#include "bench/tree_engine.hpp"
#include "scenario/scenario.hpp"
#include "search/brute_force.hpp"
#include "tree/cover_tree.hpp"
#include "tree/hilbert_index.hpp"
#include "tree/tree_knn.hpp"

namespace ctb {
namespace {

// Only the required fields; k = 1 and threads = 1 are the params' own defaults for those two
// (the schema has no default k, and threads are resolved by the caller).
Scenario default_scenario(const char* metric) {
  return parse_scenario(std::string("name: defaults\nmetric: ") + metric +
                            "\ndata: {seed: 1, n: 64, dim: 2}\nqueries: all\nk: 1\n",
                        "defaults.yaml", ".");
}

TEST(KnobDefaults, SchemaDefaultsAreTheIndexParamsDefaults) {
  for (const char* metric : {"residual", "euclidean"}) {
    SCOPED_TRACE(metric);
    const Scenario s = default_scenario(metric);

    // The harness's knobs (every engine's queries start here).
    const TreeQueryKnobs knobs = tree_query_knobs(s, 1);
    const TreeQueryKnobs want;
    EXPECT_EQ(knobs.k, want.k);
    EXPECT_EQ(knobs.predecessor, want.predecessor);
    EXPECT_EQ(knobs.threads, want.threads);
    EXPECT_EQ(knobs.survivor_cap, want.survivor_cap);
    EXPECT_EQ(knobs.low_yield_stop, want.low_yield_stop);
    EXPECT_EQ(knobs.inject_slowdown, want.inject_slowdown);
    EXPECT_EQ(knobs.dense_fallback_evals, want.dense_fallback_evals);
    EXPECT_EQ(knobs.seed_rows, want.seed_rows);
    EXPECT_EQ(knobs.pivot_candidates, want.pivot_candidates);
    EXPECT_EQ(knobs.bound_pivots, want.bound_pivots);
    EXPECT_EQ(knobs.child_order, want.child_order);
    EXPECT_EQ(knobs.frontier_block, want.frontier_block);

    // cover-tree and box: the tree searches' options (euclid_knn reads the same struct).
    const TreeQueryOptions tq = tree_query_options(knobs);
    const TreeQueryOptions tq_want;
    EXPECT_EQ(tq.k, tq_want.k);
    EXPECT_EQ(tq.predecessor, tq_want.predecessor);
    EXPECT_EQ(tq.threads, tq_want.threads);
    EXPECT_EQ(tq.survivor_cap, tq_want.survivor_cap);
    EXPECT_EQ(tq.low_yield_stop, tq_want.low_yield_stop);
    EXPECT_EQ(tq.child_order, tq_want.child_order);
    EXPECT_EQ(tq.frontier_block, tq_want.frontier_block);
    EXPECT_EQ(tq.inject_slowdown, tq_want.inject_slowdown);
    EXPECT_EQ(tq.dense_fallback_evals, tq_want.dense_fallback_evals);
    EXPECT_EQ(tq.prune_slack, tq_want.prune_slack);
    EXPECT_EQ(tq.dataset_rows, tq_want.dataset_rows);
    EXPECT_EQ(tq.cancel, tq_want.cancel);
    EXPECT_EQ(tq.per_query_evals, tq_want.per_query_evals);

    // cover-tree (and the box tree's build, which reads threads only): the build options.
    const BuildOptions bo = tree_build_options(s.build, 1);
    const BuildOptions bo_want;
    EXPECT_EQ(bo.strategy, bo_want.strategy);
    EXPECT_EQ(bo.batch_order, bo_want.batch_order);
    EXPECT_EQ(bo.base, bo_want.base);
    EXPECT_EQ(bo.threads, bo_want.threads);
    EXPECT_EQ(bo.batch_size, bo_want.batch_size);
    EXPECT_EQ(bo.cancel, bo_want.cancel);

    // pivot: the pivot index's build parameters and search options.
    const HilbertIndexParams hp = hilbert_index_params(s.build, 1);
    const HilbertIndexParams hp_want;
    EXPECT_EQ(hp.pivots, hp_want.pivots);
    EXPECT_EQ(hp.group_size, hp_want.group_size);
    EXPECT_EQ(hp.super_groups, hp_want.super_groups);
    EXPECT_EQ(hp.threads, hp_want.threads);
    EXPECT_EQ(hp.cancel, hp_want.cancel);
    const HilbertSearchOptions ho = hilbert_search_options(knobs);
    const HilbertSearchOptions ho_want;
    EXPECT_EQ(ho.k, ho_want.k);
    EXPECT_EQ(ho.predecessor, ho_want.predecessor);
    EXPECT_EQ(ho.threads, ho_want.threads);
    EXPECT_EQ(ho.seed_rows, ho_want.seed_rows);
    EXPECT_EQ(ho.pivot_candidates, ho_want.pivot_candidates);
    EXPECT_EQ(ho.bound_pivots, ho_want.bound_pivots);
    EXPECT_EQ(ho.scan_after, ho_want.scan_after);
    EXPECT_EQ(ho.plan_batch, ho_want.plan_batch);
    EXPECT_EQ(ho.inject_slowdown, ho_want.inject_slowdown);
    EXPECT_EQ(ho.cancel, ho_want.cancel);
    EXPECT_EQ(ho.per_query_evals, ho_want.per_query_evals);

    // brute: the scenario sets only k and predecessor, whose defaults agree too.
    const BruteForceOptions bf_want;
    EXPECT_EQ(s.k, bf_want.k);
    EXPECT_EQ(s.query.predecessor, bf_want.predecessor);
  }
}

// The schema's own defaults, as the scenario docs and README state them.
TEST(KnobDefaults, SchemaDefaultsAreTheDocumentedOnes) {
  const Scenario s = default_scenario("residual");
  EXPECT_EQ(s.query.engine, Engine::automatic);
  EXPECT_EQ(s.build.base, 2.0);
  EXPECT_EQ(s.query.child_order, ChildOrder::natural);
  EXPECT_EQ(s.query.frontier_block, 1u);
  EXPECT_EQ(s.query.survivor_cap, 0u);
  EXPECT_EQ(s.query.low_yield_stop, 0u);
}

}  // namespace
}  // namespace ctb
