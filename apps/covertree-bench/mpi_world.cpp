#include "mpi_world.hpp"

#include <cstdlib>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

#include "core/error.hpp"

#ifdef CTB_HAVE_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace ctb::cli {
namespace {

#ifdef CTB_HAVE_MPI
// MPI's counts are int: every transfer here stays below 2 GiB per call (the knn job sends its
// queries in rounds).
int checked_count(size_t bytes) {
  if (bytes > static_cast<size_t>(std::numeric_limits<int>::max())) {
    throw std::runtime_error("MPI transfer of " + std::to_string(bytes) + " bytes exceeds 2 GiB");
  }
  return static_cast<int>(bytes);
}

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string(what) + " failed");
}

class MpiCollective final : public Collective {
 public:
  MpiCollective() {
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    MPI_Comm local;
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
          "MPI_Comm_split_type");
    check(MPI_Comm_size(local, &local_size_), "MPI_Comm_size");
    MPI_Comm_free(&local);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }

  std::vector<uint8_t> allgather(std::span<const uint8_t> mine,
                                 std::vector<size_t>* counts) override {
    return collect(mine, counts, true);
  }
  std::vector<uint8_t> gather(std::span<const uint8_t> mine, std::vector<size_t>* counts) override {
    return collect(mine, counts, false);
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  uint64_t bytes_sent() const override { return bytes_sent_; }

 private:
  std::vector<uint8_t> collect(std::span<const uint8_t> mine, std::vector<size_t>* counts,
                               bool everyone) {
    const int n = checked_count(mine.size());
    std::vector<int> sizes(static_cast<size_t>(size_));
    check(MPI_Allgather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
    std::vector<int> displs(static_cast<size_t>(size_));
    size_t total = 0;
    for (size_t r = 0; r < sizes.size(); ++r) {
      displs[r] = checked_count(total);
      total += static_cast<size_t>(sizes[r]);
    }
    checked_count(total);
    const bool receive = everyone || rank_ == 0;
    std::vector<uint8_t> out(receive ? total : 0);
    // MPI wants a non-null buffer even for zero bytes on some paths.
    uint8_t dummy = 0;
    const void* send = mine.empty() ? &dummy : mine.data();
    if (everyone) {
      check(MPI_Allgatherv(send, n, MPI_BYTE, out.empty() ? &dummy : out.data(), sizes.data(),
                           displs.data(), MPI_BYTE, MPI_COMM_WORLD),
            "MPI_Allgatherv");
      bytes_sent_ += static_cast<uint64_t>(n) * static_cast<uint64_t>(size_ - 1);
    } else {
      check(MPI_Gatherv(send, n, MPI_BYTE, out.empty() ? &dummy : out.data(), sizes.data(),
                        displs.data(), MPI_BYTE, 0, MPI_COMM_WORLD),
            "MPI_Gatherv");
      if (rank_ != 0) bytes_sent_ += static_cast<uint64_t>(n);
    }
    if (counts != nullptr) {
      counts->clear();
      if (receive)
        for (const int s : sizes) counts->push_back(static_cast<size_t>(s));
    }
    return out;
  }

  int rank_ = 0;
  int size_ = 1;
  int local_size_ = 1;
  uint64_t bytes_sent_ = 0;
};
#endif

std::unique_ptr<Collective>& world_ptr() {
  static std::unique_ptr<Collective> world;
  return world;
}

}  // namespace

void start_mpi_if_launched(int* argc, char*** argv) {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (size == nullptr) return;
#ifdef CTB_HAVE_MPI
  int provided = 0;
  // Only the main thread calls MPI; the worker threads (core/parallel.hpp) never do.
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    throw std::runtime_error("MPI_Init_thread failed");
  }
  // Errors in a transfer come back as codes (thrown, then MPI_Abort in main) instead of
  // MPI's own abort without our message.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  world_ptr() = std::make_unique<MpiCollective>();
#else
  (void)argc;
  (void)argv;
  if (std::string(size) != "1") {
    throw InputError(
        "started by mpirun (OMPI_COMM_WORLD_SIZE=" + std::string(size) +
        ") but this covertree-bench was built without MPI (install libopenmpi-dev and rebuild "
        "with -DCTB_MPI=ON; docs/mpi.md)");
  }
#endif
}

Collective* mpi_world() { return world_ptr().get(); }

int world_rank() { return world_ptr() ? world_ptr()->rank() : 0; }

int finish_mpi(int code, bool failed) {
#ifdef CTB_HAVE_MPI
  if (world_ptr()) {
    if (failed && world_ptr()->size() > 1) MPI_Abort(MPI_COMM_WORLD, code == 0 ? 1 : code);
    world_ptr().reset();
    MPI_Finalize();
  }
#else
  (void)failed;
#endif
  return code;
}

}  // namespace ctb::cli
