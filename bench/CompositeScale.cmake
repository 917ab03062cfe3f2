# bench/composite_scale: a program of its own (not a `zc bench` entry),
# run under mpirun, and under SimGrid's smpirun when smpicc is found
# (Debian: libsimgrid-dev).  Both builds use the same sources and the same
# optimisation, so their images and byte counts can be compared exactly.
add_executable(composite_scale ${PROJECT_SOURCE_DIR}/bench/composite_scale.c)
target_link_libraries(composite_scale PRIVATE zc_composite zc_fb zc_base)
set_target_properties(composite_scale PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)

find_program(SMPICC smpicc)

# zc_smpicc_program(NAME SOURCES srcs... [DEPENDS files...] [FLAGS flags...]
#                   [LIBS libs...]): bench/NAME_smpi, built with smpicc from
# srcs and the compositor's own sources (src/base, src/fb, src/composite)
# with the same optimisation and float rules as the mpicc build, so that
# images and byte counts compare exactly.
function(zc_smpicc_program name)
  cmake_parse_arguments(S "" "" "SOURCES;DEPENDS;FLAGS;LIBS" ${ARGN})
  file(GLOB lib_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/base/*.c
       ${PROJECT_SOURCE_DIR}/src/fb/*.c ${PROJECT_SOURCE_DIR}/src/composite/*.c)
  set(out ${CMAKE_BINARY_DIR}/bench/${name}_smpi)
  separate_arguments(opt UNIX_COMMAND "${CMAKE_C_FLAGS_RELWITHDEBINFO}")
  add_custom_command(OUTPUT ${out}
    COMMAND ${SMPICC} -std=gnu17 ${opt} -ffp-contract=off -I${PROJECT_SOURCE_DIR}/include
            -I${PROJECT_SOURCE_DIR}/src/composite ${S_FLAGS} ${lib_srcs} ${S_SOURCES}
            -o ${out} ${S_LIBS} -lpng -lm -lpthread
    DEPENDS ${lib_srcs} ${S_SOURCES} ${S_DEPENDS}
    COMMENT "smpicc bench/${name} (SimGrid SMPI)" VERBATIM)
  add_custom_target(${name}_smpi ALL DEPENDS ${out})
endfunction()

if(SMPICC AND NOT ZC_SANITIZE AND NOT ZC_FUZZ)
  zc_smpicc_program(composite_scale
    SOURCES ${PROJECT_SOURCE_DIR}/bench/composite_scale.c ${PROJECT_SOURCE_DIR}/bench/smpi_charge.c
    DEPENDS ${PROJECT_SOURCE_DIR}/bench/smpi_charge.h
    FLAGS -DZC_SMPI_CHARGE)
  message(STATUS "zc: composite_scale also built with ${SMPICC}")
endif()
