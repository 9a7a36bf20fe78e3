#pragma once
// The tool's MPI world (docs/mpi.md): started only when mpirun launched the process (OpenMPI
// sets OMPI_COMM_WORLD_SIZE), so a plain launch runs exactly as before.
#include "core/collective.hpp"

namespace ctb::cli {

/// Calls MPI_Init_thread when OMPI_COMM_WORLD_SIZE is set. Throws InputError when it is set to
/// more than 1 in a binary built without MPI.
void start_mpi_if_launched(int* argc, char*** argv);

/// The ranks (nullptr in one process).
Collective* mpi_world();

/// This process's rank (0 in one process).
int world_rank();

/// Ends MPI: MPI_Finalize after success; MPI_Abort(code) after a failure on a multi-rank job,
/// which ends every rank (no rank is left waiting in a collective). Returns `code`.
int finish_mpi(int code, bool failed);

}  // namespace ctb::cli
