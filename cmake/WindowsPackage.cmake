# The Windows installer, built here with CPack's NSIS generator (Debian's
# nsis package) from a product build (no tests, no fault hooks):
# make package-windows. It installs drover.exe into Program Files\Drover,
# adds the Start menu entry, offers to start Drover at sign-in on its last
# page, and its uninstaller stops Drover and removes the WinDivert service.
#
# WinDivert: cmake/WindivertArchive.cmake checks and unpacks the archive.

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
if(DROVER_WINDIVERT_TREE) # checked and unpacked by WindivertArchive.cmake
  install(FILES "${DROVER_WINDIVERT_TREE}/x64/WinDivert.dll"
                "${DROVER_WINDIVERT_TREE}/x64/WinDivert64.sys" DESTINATION .)
  install(FILES "${DROVER_WINDIVERT_TREE}/LICENSE" DESTINATION .
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
# Built without WinDivert: the installer says which files go where (a
# message, skipped by a silent install, and the same words in a file in
# the install folder); reinstalling would not bring them.
if(NOT DROVER_WINDIVERT_TREE)
  string(APPEND CPACK_NSIS_EXTRA_INSTALL_COMMANDS [[
  FileOpen $0 "$INSTDIR\WinDivert-missing.txt" w
  FileWrite $0 "This Drover was built without WinDivert, which it needs to capture programs' traffic.$\r$\nDownload WinDivert-2.2.2-A.zip from https://reqrypt.org/windivert.html and copy its x64\WinDivert.dll and x64\WinDivert64.sys into $INSTDIR.$\r$\n"
  FileClose $0
  MessageBox MB_OK|MB_ICONINFORMATION "This Drover was built without WinDivert, which it needs to capture programs' traffic.$\n$\nDownload WinDivert-2.2.2-A.zip from https://reqrypt.org/windivert.html and copy its x64\WinDivert.dll and x64\WinDivert64.sys into $INSTDIR (the folder is written in WinDivert-missing.txt there too)." /SD IDOK
]])
endif()
# Before the files go: Drover stopped (the engine through its control
# pipe, then any tray left), the blocks a killed engine left removed
# (else its programs stay offline until a restart), the WinDivert driver stopped and its service
# deleted (windivert-facts §7), the sign-in entry removed.
set(CPACK_NSIS_EXTRA_UNINSTALL_COMMANDS [[
  Delete "$INSTDIR\WinDivert-missing.txt"
  nsExec::Exec '"$INSTDIR\drover.exe" quit'
  nsExec::Exec 'taskkill /F /IM drover.exe'
  nsExec::Exec '"$INSTDIR\drover.exe" unblock'
  nsExec::Exec 'sc stop WinDivert'
  nsExec::Exec 'sc delete WinDivert'
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "Drover"
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run" "Drover"
  Delete "$INSTDIR\WinDivert.dll"
  Delete "$INSTDIR\WinDivert64.sys"
]])
include(CPack)
