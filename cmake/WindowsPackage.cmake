# The Windows installer, built here with CPack's NSIS generator (Debian's
# nsis package) from a product build (no tests, no fault hooks):
# make package-windows. It installs drover.exe into Program Files\Drover,
# adds the Start menu entry, offers to start Drover at sign-in on its last
# page, and its uninstaller stops Drover and removes the WinDivert service.
#
# WinDivert is not in this repository: the release builder downloads
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

# Only the product is packed: a test build answers fault commands (make the
# engine throw, drop its packet handle). `make package-windows` builds the
# product in a folder of its own; packing a test build stops here.
if(DROVER_FAULT_INJECTION)
  install(CODE [[
    message(FATAL_ERROR "this is a test build (it has fault hooks): the "
                        "installer is made from a product build "
                        "(make package-windows)")
  ]])
endif()
install(TARGETS drover RUNTIME DESTINATION .)
set(package_suffix "")
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
  install(FILES "${_windivert_top}/x64/WinDivert.dll"
                "${_windivert_top}/x64/WinDivert64.sys" DESTINATION .)
  install(FILES "${_windivert_top}/LICENSE" DESTINATION .
          RENAME WinDivert-LICENSE.txt)
else()
  set(package_suffix "-without-windivert")
endif()

# A product that takes updates signed with the tests' key (the installer
# test's) is never mistaken for a release.
if(DROVER_TRUSTS_TESTS_KEY)
  string(APPEND package_suffix "-tests-update-key")
endif()

set(CPACK_GENERATOR NSIS64)
# The NSIS snippets below go to the script as written (quotes, backslashes).
set(CPACK_VERBATIM_VARIABLES ON)
set(CPACK_PACKAGE_NAME "Drover")
set(CPACK_PACKAGE_VENDOR "Drover")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Chosen applications through your SOCKS5 proxy")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_INSTALL_DIRECTORY "Drover")
set(CPACK_PACKAGE_FILE_NAME
    "Drover-${PROJECT_VERSION}-win64-setup${package_suffix}")
set(CPACK_PACKAGE_EXECUTABLES "drover;Drover")
set(CPACK_STRIP_FILES ON)
set(CPACK_NSIS_PACKAGE_NAME "Drover")
set(CPACK_NSIS_DISPLAY_NAME "Drover")
set(CPACK_NSIS_INSTALLED_ICON_NAME "drover.exe")
set(CPACK_NSIS_MUI_ICON "${PROJECT_SOURCE_DIR}/app/windows/drover.ico")
set(CPACK_NSIS_MUI_UNIICON "${PROJECT_SOURCE_DIR}/app/windows/drover.ico")
set(CPACK_NSIS_ENABLE_UNINSTALL_BEFORE_INSTALL ON)
set(CPACK_NSIS_MANIFEST_DPI_AWARE ON)
set(CPACK_NSIS_MUI_FINISHPAGE_RUN "drover.exe")
# The last page's second box: start at sign-in (off unless ticked). The
# value is the one Drover's own setting writes (actors/platform/
# startup_entry.hpp): the quoted path; Explorer's switch is cleared so that
# the entry is on.
#
# The installer itself is a 64-bit program (NSIS's amd64 stubs): Drover and
# WinDivert's driver are x64 only, and wine64 runs it in the tests.
set(CPACK_NSIS_DEFINES [[
  Target amd64-unicode
  !define MUI_FINISHPAGE_SHOWREADME ""
  !define MUI_FINISHPAGE_SHOWREADME_NOTCHECKED
  !define MUI_FINISHPAGE_SHOWREADME_TEXT "Start Drover when I sign in"
  !define MUI_FINISHPAGE_SHOWREADME_FUNCTION DroverStartAtSignIn
  Function DroverStartAtSignIn
    WriteRegStr HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "Drover" '"$INSTDIR\drover.exe"'
    DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run" "Drover"
  FunctionEnd
]])
# After the files: the engine's own folder, %PROGRAMDATA%\Drover, made by
# the installer (elevated) with an access list of SYSTEM and administrators
# only, before any standard user could make it or plant a link there
# (docs/security.md); a planted one is moved aside or refused, as the
# engine does at start.
set(CPACK_NSIS_EXTRA_INSTALL_COMMANDS [[
  nsExec::ExecToLog '"$INSTDIR\drover.exe" prepare-folders'
]])
# Before the files go: Drover stopped (the engine through its control
# pipe, then any tray left), the WinDivert driver stopped and its service
# deleted (windivert-facts §7), the sign-in entry removed.
set(CPACK_NSIS_EXTRA_UNINSTALL_COMMANDS [[
  nsExec::Exec '"$INSTDIR\drover.exe" quit'
  nsExec::Exec 'taskkill /F /IM drover.exe'
  nsExec::Exec 'sc stop WinDivert'
  nsExec::Exec 'sc delete WinDivert'
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "Drover"
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run" "Drover"
]])
include(CPack)
