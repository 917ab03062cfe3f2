# MPI tests for sim and composite (included by both test folders).
#
# zc_mpi_env(TESTS...): what every MPI program here needs in its
# environment: Open MPI allowed to run as root (CI runs as root), ranks
# that yield when idle (8 ranks share 2 cores), no single-copy mechanism
# that needs ptrace rights.  Open MPI leaves allocations behind in
# components it has unloaded, which LeakSanitizer cannot attribute or
# suppress, so leak checking is off in MPI programs (AddressSanitizer and
# UBSan still run; the codec's test keeps leak checking).
function(zc_mpi_env)
  set_property(TEST ${ARGN} APPEND PROPERTY ENVIRONMENT
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
    OMPI_MCA_rmaps_base_oversubscribe=1
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1)
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
