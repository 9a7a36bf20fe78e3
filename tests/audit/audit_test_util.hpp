#pragma once
// Small helpers shared by the audit tests: temporary directories and hand-made k-NN answers.
#include <filesystem>
#include <initializer_list>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/temp_dir.hpp"
#include "search/knn.hpp"

namespace ctb::audit_test {

using TempDir = ctb::test_support::TempDir;

/// One query row per initializer list of (id, distance) pairs; all rows must have length k.
inline KnnResult answer(std::initializer_list<std::vector<std::pair<int64_t, double>>> rows) {
  KnnResult r;
  r.resize(rows.size(), rows.begin()->size());
  size_t q = 0;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      r.indices[q * r.k + i] = row[i].first;
      r.distances[q * r.k + i] = row[i].second;
    }
    ++q;
  }
  return r;
}

}  // namespace ctb::audit_test
