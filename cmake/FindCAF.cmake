# Finds the C++ Actor Framework 0.17 (core and io).
#
# Debian's libcaf-dev ships no CMake config, Find module or pkg-config file,
# only shared libcaf_core.so / libcaf_io.so. The Windows build uses a static
# CAF from scripts/build-caf-mingw.sh; point CAF_ROOT at its prefix.
#
# Defines the imported targets CAF::core and CAF::io, and CAF_VERSION.

set(_caf_hints)
if(CAF_ROOT)
  list(APPEND _caf_hints "${CAF_ROOT}")
endif()
if(DEFINED ENV{CAF_ROOT})
  list(APPEND _caf_hints "$ENV{CAF_ROOT}")
endif()

if(WIN32)
  set(_caf_core_names caf_core_static libcaf_core_static)
  set(_caf_io_names caf_io_static libcaf_io_static)
else()
  set(_caf_core_names caf_core)
  set(_caf_io_names caf_io)
endif()

# A new CAF_ROOT (a new build of CAF for mingw, say) is searched afresh:
# the results cached for the old one would keep its headers and libraries.
if(NOT "${_caf_hints}" STREQUAL "${_CAF_HINTS_SEARCHED}")
  unset(CAF_INCLUDE_DIR CACHE)
  unset(CAF_CORE_LIBRARY CACHE)
  unset(CAF_IO_LIBRARY CACHE)
  set(_CAF_HINTS_SEARCHED "${_caf_hints}" CACHE INTERNAL
      "the CAF_ROOT the CAF_* results were found with")
endif()

# An explicit CAF_ROOT is searched alone, and as given: a cross build's
# find-root re-rooting would otherwise move it under the mingw sysroot.
if(_caf_hints)
  set(_caf_where PATHS ${_caf_hints} NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
else()
  set(_caf_where)
endif()
find_path(CAF_INCLUDE_DIR caf/all.hpp ${_caf_where} PATH_SUFFIXES include)
find_library(CAF_CORE_LIBRARY NAMES ${_caf_core_names} ${_caf_where}
  PATH_SUFFIXES lib)
find_library(CAF_IO_LIBRARY NAMES ${_caf_io_names} ${_caf_where}
  PATH_SUFFIXES lib)

if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_version_line
       REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX MATCH "[0-9]+" _caf_v "${_caf_version_line}")
  if(_caf_v)
    math(EXPR _caf_major "${_caf_v} / 10000")
    math(EXPR _caf_minor "(${_caf_v} / 100) % 100")
    math(EXPR _caf_patch "${_caf_v} % 100")
    set(CAF_VERSION "${_caf_major}.${_caf_minor}.${_caf_patch}")
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_INCLUDE_DIR CAF_CORE_LIBRARY CAF_IO_LIBRARY
  VERSION_VAR CAF_VERSION)

if(CAF_FOUND AND NOT TARGET CAF::core)
  find_package(Threads REQUIRED)
  if(WIN32)
    add_library(CAF::core STATIC IMPORTED)
    add_library(CAF::io STATIC IMPORTED)
  else()
    add_library(CAF::core SHARED IMPORTED)
    add_library(CAF::io SHARED IMPORTED)
  endif()
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES CAF::core)
  if(WIN32)
    # The static CAF was built with this flag; its headers must agree.
    set_property(TARGET CAF::core APPEND PROPERTY
      INTERFACE_COMPILE_DEFINITIONS CAF_NO_THREAD_LOCAL)
    set_property(TARGET CAF::core APPEND PROPERTY
      INTERFACE_LINK_LIBRARIES ws2_32 iphlpapi psapi)
    set_property(TARGET CAF::io APPEND PROPERTY
      INTERFACE_LINK_LIBRARIES ws2_32 iphlpapi psapi)
  endif()
endif()
mark_as_advanced(CAF_INCLUDE_DIR CAF_CORE_LIBRARY CAF_IO_LIBRARY)
