# The Debian package, built here with CPack's DEB generator from a product
# build (no tests, no fault hooks): make package-linux. It installs the
# engine as the hardened service drover.service (started at once), the
# polkit action the tray's password prompt uses, the menu entry and icons,
# and creates the group "drover" whose members' trays may control the
# engine (docs/desktop.md). Removing it stops the engine (its rules and
# cgroup go with it); purging it also removes the config, logs and group.
#
# These install() rules describe the package's layout (/usr); a user's
# `sudo make install` goes through scripts/install.sh (/usr/local).

if(DROVER_FAULT_INJECTION)
  install(CODE [[
    message(FATAL_ERROR "this is a test build (it has fault hooks): the "
                        "package is made from a product build "
                        "(make package-linux)")
  ]])
endif()

set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(_bindir /usr/bin)
set(_docdir /usr/share/doc/drover)
set(_packaged "${CMAKE_BINARY_DIR}/packaged")
foreach(_file drover.service drover.desktop org.drover.engine.policy)
  file(READ "${PROJECT_SOURCE_DIR}/app/desktop/${_file}" _text)
  string(REPLACE "@BINDIR@" "${_bindir}" _text "${_text}")
  string(REPLACE "@DOCDIR@" "${_docdir}" _text "${_text}")
  file(GENERATE OUTPUT "${_packaged}/${_file}" CONTENT "${_text}")
endforeach()

install(TARGETS drover RUNTIME DESTINATION bin)
# The tray's library, where drover looks for it (../lib/drover).
install(TARGETS drover_tray_module LIBRARY DESTINATION lib/drover)
# Debian's place for a package's units (/etc/systemd/system is the admin's).
install(FILES "${_packaged}/drover.service" DESTINATION lib/systemd/system)
install(FILES "${_packaged}/drover.desktop" DESTINATION share/applications)
install(FILES "${_packaged}/org.drover.engine.policy"
        DESTINATION share/polkit-1/actions)
foreach(_size 16 22 24 32 48 64 128)
  install(FILES "${PROJECT_SOURCE_DIR}/app/tray/icons/drover-${_size}.png"
          DESTINATION share/icons/hicolor/${_size}x${_size}/apps
          RENAME drover.png)
endforeach()
install(FILES "${PROJECT_SOURCE_DIR}/docs/desktop.md"
              "${PROJECT_SOURCE_DIR}/docs/config.md"
              "${PROJECT_SOURCE_DIR}/docs/troubleshooting.md"
              "${PROJECT_SOURCE_DIR}/docs/security.md"
        DESTINATION share/doc/drover)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME drover)
set(CPACK_PACKAGE_VENDOR Drover)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "Drover <drover@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "chosen applications through your SOCKS5 proxy")
set(CPACK_PACKAGE_DESCRIPTION
    "Drover sends the applications you choose (Discord, say), and only them,
through your SOCKS5 proxy: every TCP connection through CONNECT, every UDP
datagram (voice) through UDP ASSOCIATE, without changing their settings.
It runs as a system service and lives in the tray.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The libraries, as dpkg-shlibdeps finds them; the programs it runs.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "iptables, iproute2, passwd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "pkexec")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/app/debian/postinst"
    "${PROJECT_SOURCE_DIR}/app/debian/prerm"
    "${PROJECT_SOURCE_DIR}/app/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
