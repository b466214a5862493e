# Third-party dependencies, with the same target names on both toolchains:
#   CAF::core CAF::io      actor framework 0.17.6
#   drover::spdlog         logging (with fmt)
#   drover::toml           toml++ (header-only on both: config/toml_library.hpp)
#   drover::cli11          command-line parsing
#   GTest::gtest_main      (tests)
#
# Native Linux uses Debian's packages as they are. The mingw build uses the
# same Debian headers header-only, through a folder of symlinks (adding
# /usr/include itself would drag glibc headers into a Windows build), and a
# static CAF built by scripts/build-caf-mingw.sh.

find_package(Threads REQUIRED)
find_package(CAF 0.17.6 REQUIRED)

if(NOT CMAKE_CROSSCOMPILING)
  find_package(spdlog REQUIRED)
  # toml++ header-only, not Debian's libtomlplusplus.so: its parser must be
  # compiled here, with the flaws config/toml_library.hpp mends.
  if(NOT EXISTS /usr/include/toml++/toml.h)
    message(FATAL_ERROR "/usr/include/toml++ is missing: run scripts/setup.sh")
  endif()
  find_package(CLI11 REQUIRED)
  add_library(drover_dep_spdlog INTERFACE)
  target_link_libraries(drover_dep_spdlog INTERFACE spdlog::spdlog)
  add_library(drover_dep_toml INTERFACE)
  target_compile_definitions(drover_dep_toml INTERFACE TOML_HEADER_ONLY=1)
  add_library(drover_dep_cli11 INTERFACE)
  target_link_libraries(drover_dep_cli11 INTERFACE CLI11::CLI11)
else()
  set(_shim "${CMAKE_BINARY_DIR}/host-headers")
  file(MAKE_DIRECTORY "${_shim}")
  foreach(_dir fmt spdlog toml++ CLI)
    if(NOT EXISTS "/usr/include/${_dir}")
      message(FATAL_ERROR "/usr/include/${_dir} is missing: run scripts/setup.sh")
    endif()
    if(NOT EXISTS "${_shim}/${_dir}")
      file(CREATE_LINK "/usr/include/${_dir}" "${_shim}/${_dir}" SYMBOLIC)
    endif()
  endforeach()
  add_library(drover_dep_headers INTERFACE)
  target_include_directories(drover_dep_headers SYSTEM INTERFACE "${_shim}")
  add_library(drover_dep_spdlog INTERFACE)
  target_compile_definitions(drover_dep_spdlog INTERFACE FMT_HEADER_ONLY)
  target_link_libraries(drover_dep_spdlog INTERFACE drover_dep_headers)
  add_library(drover_dep_toml INTERFACE)
  target_compile_definitions(drover_dep_toml INTERFACE TOML_HEADER_ONLY=1)
  target_link_libraries(drover_dep_toml INTERFACE drover_dep_headers)
  add_library(drover_dep_cli11 INTERFACE)
  target_link_libraries(drover_dep_cli11 INTERFACE drover_dep_headers)
endif()
add_library(drover::spdlog ALIAS drover_dep_spdlog)
add_library(drover::toml ALIAS drover_dep_toml)
add_library(drover::cli11 ALIAS drover_dep_cli11)

if(DROVER_BUILD_TESTS)
  if(NOT CMAKE_CROSSCOMPILING)
    find_package(GTest REQUIRED)
  else()
    # libgtest-dev ships GoogleTest's sources; build them with mingw.
    set(gtest_force_shared_crt ON CACHE BOOL "" FORCE)
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
    add_subdirectory(/usr/src/googletest "${CMAKE_BINARY_DIR}/googletest"
                     EXCLUDE_FROM_ALL)
    # GoogleTest 1.12 defines the GTest:: aliases itself.
  endif()
endif()
