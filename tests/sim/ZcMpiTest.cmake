# MPI tests for sim and composite (included by both test folders).
#
# zc_mpi_env(TESTS...): what every MPI program here needs in its
# environment: Open MPI allowed to run as root (CI runs as root), ranks
# that yield when idle (8 ranks share 2 cores), no single-copy mechanism
# that needs ptrace rights, and Open MPI's own allocations kept out of
# LeakSanitizer's report.
set(ZC_MPI_LSAN_SUPP ${CMAKE_CURRENT_LIST_DIR}/lsan-mpi.supp)
function(zc_mpi_env)
  set_property(TEST ${ARGN} APPEND PROPERTY ENVIRONMENT
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
    OMPI_MCA_rmaps_base_oversubscribe=1
    LSAN_OPTIONS=suppressions=${ZC_MPI_LSAN_SUPP})
endfunction()

# zc_mpi_test(NAME TARGET NP TIMEOUT [ARGS...]): runs TARGET on NP ranks
# under mpirun (--oversubscribe), label "mpi".
function(zc_mpi_test name target np timeout)
  add_test(NAME ${name}
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} --oversubscribe
                   ${MPIEXEC_PREFLAGS} $<TARGET_FILE:${target}> ${MPIEXEC_POSTFLAGS} ${ARGN})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${timeout} LABELS mpi)
  zc_mpi_env(${name})
endfunction()
