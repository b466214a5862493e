# The Windows installer, built here with CPack's NSIS generator (Debian's
# nsis package): `cmake --build build-windows --target package`
# (make package-windows). It installs drover.exe into Program Files\Drover,
# adds the Start menu entry, offers to start Drover at sign-in on its last
# page, and its uninstaller stops Drover and removes the WinDivert service.
#
# WinDivert is not in this repository: the release builder downloads
# WinDivert 2.2.2-A from its publisher (reqrypt.org) and points
# DROVER_WINDIVERT_DIR at the folder with WinDivert.dll and WinDivert64.sys
# (docs/windows.md). Without it the installer is built without WinDivert
# and says so in its name.

set(DROVER_WINDIVERT_DIR "" CACHE PATH
    "Folder with WinDivert 2.2's WinDivert.dll and WinDivert64.sys (x64)")

install(TARGETS drover RUNTIME DESTINATION .)
set(package_suffix "")
if(DROVER_WINDIVERT_DIR)
  foreach(f WinDivert.dll WinDivert64.sys)
    if(NOT EXISTS "${DROVER_WINDIVERT_DIR}/${f}")
      message(FATAL_ERROR "DROVER_WINDIVERT_DIR has no ${f}: ${DROVER_WINDIVERT_DIR}")
    endif()
    install(FILES "${DROVER_WINDIVERT_DIR}/${f}" DESTINATION .)
  endforeach()
  if(EXISTS "${DROVER_WINDIVERT_DIR}/LICENSE")
    install(FILES "${DROVER_WINDIVERT_DIR}/LICENSE" DESTINATION .
            RENAME WinDivert-LICENSE.txt)
  endif()
else()
  set(package_suffix "-without-windivert")
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
