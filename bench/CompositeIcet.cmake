# bench/composite_icet_check: zc's compositing and IceT's (the compositing
# library of ParaView and VisIt; Debian: paraview-dev, a bench-only package)
# on the same tiles, under mpirun and, where smpicc is found, under SimGrid's
# smpirun.  IceT's core library talks to the network only through a table of
# functions, which bench/composite_icet.c fills over MPI: no IceT MPI
# library, so the smpicc build links the same core.  Without IceT nothing is
# built and test_composite_icet skips (77).
list(FILTER bench_srcs EXCLUDE REGEX "/composite_icet(_check)?\\.c$")

file(GLOB icet_hints /usr/include/paraview-*/vtkicet/src/include)
find_path(ICET_INCLUDE_DIR IceT.h HINTS ${icet_hints})
find_library(ICET_CORE_LIBRARY vtkIceTCore-pv5.11)
set(icet_check "")
set(icet_check_smpi "")
if(ICET_INCLUDE_DIR AND ICET_CORE_LIBRARY)
  set(icet_srcs ${PROJECT_SOURCE_DIR}/bench/composite_icet.c
                ${PROJECT_SOURCE_DIR}/bench/composite_icet_check.c)
  add_executable(composite_icet_check ${icet_srcs})
  target_include_directories(composite_icet_check PRIVATE ${ICET_INCLUDE_DIR})
  target_link_libraries(composite_icet_check PRIVATE zc_composite zc_fb zc_base
                                                     ${ICET_CORE_LIBRARY} m)
  set_target_properties(composite_icet_check PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
  set(icet_check $<TARGET_FILE:composite_icet_check>)
  message(STATUS "zc: composite_icet_check compares with IceT (${ICET_CORE_LIBRARY})")

  if(SMPICC AND NOT ZC_SANITIZE AND NOT ZC_FUZZ) # SMPICC: found by CompositeScale.cmake
    zc_smpicc_program(composite_icet_check
      SOURCES ${icet_srcs}
      DEPENDS ${PROJECT_SOURCE_DIR}/bench/composite_icet.h
      FLAGS -I${ICET_INCLUDE_DIR}
      LIBS ${ICET_CORE_LIBRARY})
    set(icet_check_smpi ${CMAKE_BINARY_DIR}/bench/composite_icet_check_smpi)
  endif()
endif()

# The test: images within 1 of 255 under mpirun at N = 2, 3, 4, 8, and
# under smpirun at N = 8 (the same images as Open MPI's) and 64.
include(${PROJECT_SOURCE_DIR}/tests/sim/ZcMpiTest.cmake)
add_test(NAME test_composite_icet
         COMMAND sh ${PROJECT_SOURCE_DIR}/bench/composite_icet_test.sh ${MPIEXEC_EXECUTABLE}
                 "${icet_check}" "${icet_check_smpi}" ${PROJECT_SOURCE_DIR}/bench/platforms)
set_tests_properties(test_composite_icet PROPERTIES TIMEOUT 300 LABELS mpi SKIP_RETURN_CODE 77)
zc_mpi_env(test_composite_icet)
