# bench/composite_scale: a program of its own (not a `zc bench` entry),
# run under mpirun, and under SimGrid's smpirun when smpicc is found
# (Debian: libsimgrid-dev).  Both builds use the same sources and the same
# optimisation, so their images and byte counts can be compared exactly.
add_executable(composite_scale ${PROJECT_SOURCE_DIR}/bench/composite_scale.c)
target_link_libraries(composite_scale PRIVATE zc_composite zc_fb zc_base)
set_target_properties(composite_scale PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)

find_program(SMPICC smpicc)
if(SMPICC AND NOT ZC_SANITIZE AND NOT ZC_FUZZ)
  file(GLOB smpi_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/base/*.c
       ${PROJECT_SOURCE_DIR}/src/fb/*.c ${PROJECT_SOURCE_DIR}/src/composite/*.c)
  set(smpi_out ${CMAKE_BINARY_DIR}/bench/composite_scale_smpi)
  separate_arguments(smpi_opt UNIX_COMMAND "${CMAKE_C_FLAGS_RELWITHDEBINFO}")
  add_custom_command(OUTPUT ${smpi_out}
    COMMAND ${SMPICC} -std=gnu17 ${smpi_opt} -ffp-contract=off -I${PROJECT_SOURCE_DIR}/include
            -I${PROJECT_SOURCE_DIR}/src/composite ${smpi_srcs}
            -DZC_SMPI_CHARGE ${PROJECT_SOURCE_DIR}/bench/composite_scale.c
            ${PROJECT_SOURCE_DIR}/bench/smpi_charge.c -o ${smpi_out} -lpng -lm -lpthread
    DEPENDS ${smpi_srcs} ${PROJECT_SOURCE_DIR}/bench/composite_scale.c
            ${PROJECT_SOURCE_DIR}/bench/smpi_charge.c ${PROJECT_SOURCE_DIR}/bench/smpi_charge.h
    COMMENT "smpicc bench/composite_scale (SimGrid SMPI)" VERBATIM)
  add_custom_target(composite_scale_smpi ALL DEPENDS ${smpi_out})
  message(STATUS "zc: composite_scale also built with ${SMPICC}")
endif()
