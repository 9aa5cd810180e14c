# bizrelay_library(NAME SOURCES ... DEPS ...): one library per subsystem, built with our warnings.
function(bizrelay_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${BIZRELAY_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# bizrelay_test(NAME SOURCES ... DEPS ... [LABELS ...]): a GoogleTest binary registered with ctest.
# Tests labelled "postgres" start a throwaway PostgreSQL cluster; run them alone with
# `ctest -L postgres`.
function(bizrelay_test name)
  if(NOT BIZRELAY_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${BIZRELAY_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  # One ctest entry per binary: tests labelled "postgres" share one throwaway cluster per
  # process, which is started once rather than once per test case.
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()

# bizrelay_embed_sql(VAR NAMESPACE ns TABLE fn BASE dir FILES ...): compiles SQL files into a
# C++ source that defines a table of {name, text} pairs, so the schema ships inside the binary.
# A file is named by its path below BASE.
function(bizrelay_embed_sql out_var)
  cmake_parse_arguments(ARG "" "NAMESPACE;TABLE;BASE" "FILES" ${ARGN})
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${ARG_TABLE}.cc")
  set(script "${PROJECT_SOURCE_DIR}/cmake/embed_sql.cmake")
  # A CMake list cannot pass through a command line; join with '|' and split in the script.
  string(REPLACE ";" "|" files_arg "${ARG_FILES}")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNAMESPACE=${ARG_NAMESPACE} -DTABLE=${ARG_TABLE}
            -DBASE=${ARG_BASE} "-DFILES=${files_arg}" -P ${script}
    DEPENDS ${ARG_FILES} ${script}
    COMMENT "Embedding SQL into ${ARG_TABLE}.cc"
    VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
