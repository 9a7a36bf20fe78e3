#pragma once
// "The other ranks" of a job sharded over processes (docs/mpi.md), as the library sees them:
// a rank and a size, and the few collective byte transfers the sharded run and knn job need.
// The library never links MPI: the command-line tool (apps/) supplies an MPI implementation when
// it was started by mpirun; everything else uses the single-process default below, whose
// transfers are copies.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace ctb {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const { return 0; }
  virtual int size() const { return 1; }
  /// Ranks on this host (this one included): the memory refusal counts them.
  virtual int local_size() const { return 1; }
  /// Every rank's `mine`, concatenated in rank order, on every rank; `counts` (optional) gets
  /// each rank's byte count.
  virtual std::vector<uint8_t> allgather(std::span<const uint8_t> mine,
                                         std::vector<size_t>* counts = nullptr) {
    if (counts != nullptr) *counts = {mine.size()};
    return {mine.begin(), mine.end()};
  }
  /// As allgather, but only rank 0 receives (the others get an empty vector and counts).
  virtual std::vector<uint8_t> gather(std::span<const uint8_t> mine,
                                      std::vector<size_t>* counts = nullptr) {
    return allgather(mine, counts);
  }
  virtual void barrier() {}
  /// Bytes this rank has handed to the transfers so far (0 in one process).
  virtual uint64_t bytes_sent() const { return 0; }
};

/// Values as bytes and back, for the transfers (trivially copyable types only).
template <class T>
std::span<const uint8_t> as_bytes_of(std::span<const T> values) {
  return {reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(T)};
}

}  // namespace ctb
