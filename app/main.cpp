#include <iostream>

#include "actors/platform/process.hpp"
#include "app/cli.hpp"

#ifdef DROVER_WITH_TRAY
#  include <QString>

#  include "actors/platform/files.hpp"
#  include "actors/platform/sockets.hpp"
#  include "app/tray/autostart.hpp"
#  include "app/tray/tray_app.hpp"
#  include "app/version.hpp"
#endif

int main(int argc, char** argv) {
  drover::platform::attach_parent_console();
#ifdef DROVER_WITH_TRAY
  drover::cli::set_tray_runner([&](const drover::cli::tray_request& r) {
    namespace tray = drover::tray;
    tray::tray_options o;
    o.program = QString::fromStdString(
        drover::platform::current_executable().u8string());
    o.config_path = QString::fromStdString(r.config_path);
    o.trace = r.trace;
    for (auto& path : drover::platform::control_socket_candidates())
      o.engine_sockets << QString::fromStdString(path);
    o.version = QString::fromLatin1(drover::version);
    o.autostart_entry = tray::autostart::default_entry_path();
    return tray::run_tray(argc, argv, o,
                          QString::fromStdString(
                              drover::platform::user_runtime_dir().u8string()));
  });
#endif
  return drover::cli::run(argc, argv, std::cout, std::cerr);
}
