#include <iostream>

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
#ifdef DROVER_WITH_TRAY
  drover::cli::set_tray_runner([&](const drover::cli::tray_request& r) {
    namespace tray = drover::tray;
    tray::tray_options o;
    o.program = QString::fromLocal8Bit(
        drover::platform::current_executable().string().c_str());
    o.config_path = QString::fromStdString(r.config_path);
    o.trace = r.trace;
    for (auto& path : drover::platform::control_socket_candidates())
      o.engine_sockets << QString::fromStdString(path);
    o.version = QString::fromLatin1(drover::version);
    o.autostart_entry = tray::autostart::default_entry_path();
    return tray::run_tray(
        argc, argv, o,
        QString::fromStdString(drover::platform::user_runtime_dir().string()));
  });
#endif
  return drover::cli::run(argc, argv, std::cout, std::cerr);
}
