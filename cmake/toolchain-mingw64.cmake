# Cross-build for Windows x64 with Debian's mingw-w64.
#
# The -posix compilers are required: the default x86_64-w64-mingw32-g++ uses
# the win32 thread model, which has no std::thread or std::mutex (CAF needs
# both). Tests run through wine via CMAKE_CROSSCOMPILING_EMULATOR; the wrapper
# gives every run its own timeout and a private wine prefix.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(DROVER_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${DROVER_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${DROVER_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${DROVER_MINGW_TRIPLE}-windres)

# Only the mingw sysroot (and prefixes we add, such as CAF's) is searched for
# libraries and headers; never the host's /usr/include.
set(CMAKE_FIND_ROOT_PATH /usr/${DROVER_MINGW_TRIPLE})
# Qt for mingw (scripts/build-qt-mingw.sh) lives outside the sysroot.
if(DROVER_QT_ROOT)
  list(APPEND CMAKE_FIND_ROOT_PATH "${DROVER_QT_ROOT}")
  list(APPEND CMAKE_PREFIX_PATH "${DROVER_QT_ROOT}")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Everything static: the .exe must run without the mingw runtime DLLs.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")

get_filename_component(_drover_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(CMAKE_CROSSCOMPILING_EMULATOR "${_drover_root}/scripts/wine-run")
