# zc_part(NAME DEPS...): the static library zc_NAME from src/NAME/*.c,
# linked to the parts and libraries it depends on.  A part with no sources
# yet is an INTERFACE library so that the build always configures.
set(ZC_PARTS "" CACHE INTERNAL "")
function(zc_part name)
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
  if(srcs)
    add_library(zc_${name} STATIC ${srcs})
    target_include_directories(zc_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                          PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(zc_${name} PUBLIC ${ARGN})
    set(ZC_PARTS ${ZC_PARTS} zc_${name} CACHE INTERNAL "")
  else()
    add_library(zc_${name} INTERFACE)
    target_include_directories(zc_${name} INTERFACE ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(zc_${name} INTERFACE ${ARGN})
  endif()
endfunction()

# zc_test(NAME SOURCES... [LIBS libs...] [LABELS labels...] [TIMEOUT s]):
# a plain ctest executable; it passes when it exits 0.
function(zc_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${T_UNPARSED_ARGUMENTS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE ZC_TESTS_DIR="${PROJECT_SOURCE_DIR}/tests")
  target_link_libraries(${name} PRIVATE ${T_LIBS})
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
endfunction()

# zc_fuzz(NAME SOURCES... LIBS libs... [SECONDS s]): a libFuzzer target (only
# with ZC_FUZZ=ON) and a ctest, label "fuzz", that runs it for SECONDS
# (default 20) from the seed corpus fuzz/corpus/NAME when there is one.
function(zc_fuzz name)
  cmake_parse_arguments(F "" "SECONDS" "LIBS" ${ARGN})
  if(NOT F_SECONDS)
    set(F_SECONDS 20)
  endif()
  add_executable(${name} ${F_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set(seeds ${PROJECT_SOURCE_DIR}/fuzz/corpus/${name})
  set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}-corpus)
  file(MAKE_DIRECTORY ${work})
  if(EXISTS ${seeds})
    set(dirs ${work} ${seeds})
  else()
    set(dirs ${work})
  endif()
  add_test(NAME ${name} COMMAND ${name} -max_total_time=${F_SECONDS} -timeout=10 -rss_limit_mb=2048 ${dirs})
  math(EXPR limit "${F_SECONDS} + 60")
  set_tests_properties(${name} PROPERTIES TIMEOUT ${limit} LABELS fuzz)
endfunction()
