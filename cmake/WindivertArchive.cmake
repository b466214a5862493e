# WinDivert for the Windows build (cmake/WindowsPackage.cmake packs it):
# it is not in this repository: the release builder downloads
# WinDivert-2.2.2-A.zip from its publisher (reqrypt.org, or the GitHub
# release basil00/WinDivert v2.2.2) and points DROVER_WINDIVERT_ZIP at the
# archive as downloaded (docs/windows.md). Its SHA-256 must be the one
# pinned here, so a tampered or different download never reaches an
# installer that loads it into the kernel as administrator; the x64 files
# are taken from inside it. Without it the installer is built without
# WinDivert and says so in its name.

set(DROVER_WINDIVERT_ZIP "" CACHE FILEPATH
    "WinDivert-2.2.2-A.zip, as downloaded from its publisher")
# The published archive's digest, the same in every independent record of
# it. Another value is for a release that moves to a newer WinDivert (and
# for the installer test's stand-in archive).
set(DROVER_WINDIVERT_ZIP_SHA256
    "63cb41763bb4b20f600b6de04e991a9c2be73279e317d4d82f237b150c5f3f15"
    CACHE STRING "SHA-256 that DROVER_WINDIVERT_ZIP must have")

# The archive is checked and unpacked here, before the engine is built:
# the SHA-256s of its x64 WinDivert.dll and WinDivert64.sys go into the
# engine, which loads WinDivert only when the files beside it are those
# (actors/platform/windows/windivert_dll.cpp). Without an archive both are
# empty, and the engine says where the user's own copy goes.
set(DROVER_WINDIVERT_DLL_SHA256 "")
set(DROVER_WINDIVERT_SYS_SHA256 "")
set(DROVER_WINDIVERT_TREE "")
if(DROVER_WINDIVERT_ZIP)
  if(NOT EXISTS "${DROVER_WINDIVERT_ZIP}")
    message(FATAL_ERROR "DROVER_WINDIVERT_ZIP does not exist: "
                        "${DROVER_WINDIVERT_ZIP}")
  endif()
  file(SHA256 "${DROVER_WINDIVERT_ZIP}" _windivert_sha256)
  string(TOLOWER "${DROVER_WINDIVERT_ZIP_SHA256}" _windivert_pinned)
  if(NOT _windivert_sha256 STREQUAL _windivert_pinned)
    message(FATAL_ERROR
      "${DROVER_WINDIVERT_ZIP} is not the WinDivert archive Drover packs: "
      "its SHA-256 is ${_windivert_sha256}, WinDivert-2.2.2-A.zip's is "
      "${_windivert_pinned}. Download it again from its publisher "
      "(docs/windows.md); a changed file is never packed.")
  endif()
  set(_windivert_tree "${CMAKE_BINARY_DIR}/windivert-${_windivert_sha256}")
  file(REMOVE_RECURSE "${_windivert_tree}")
  file(ARCHIVE_EXTRACT INPUT "${DROVER_WINDIVERT_ZIP}"
       DESTINATION "${_windivert_tree}")
  file(GLOB _windivert_top LIST_DIRECTORIES true "${_windivert_tree}/*")
  list(LENGTH _windivert_top _windivert_tops)
  if(NOT _windivert_tops EQUAL 1)
    message(FATAL_ERROR "${DROVER_WINDIVERT_ZIP}: expected one folder "
                        "(WinDivert-2.2.2-A) at its top")
  endif()
  foreach(f x64/WinDivert.dll x64/WinDivert64.sys LICENSE)
    if(NOT EXISTS "${_windivert_top}/${f}")
      message(FATAL_ERROR "${DROVER_WINDIVERT_ZIP} has no ${f}")
    endif()
  endforeach()
  file(SHA256 "${_windivert_top}/x64/WinDivert.dll" DROVER_WINDIVERT_DLL_SHA256)
  file(SHA256 "${_windivert_top}/x64/WinDivert64.sys" DROVER_WINDIVERT_SYS_SHA256)
  set(DROVER_WINDIVERT_TREE "${_windivert_top}")
endif()
