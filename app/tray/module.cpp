#include "app/tray/module.hpp"

#include <cstdio>
#include <cstring>

#include <QString>

#include "actors/platform/files.hpp"
#include "actors/platform/sockets.hpp"
#include "app/tray/autostart.hpp"
#include "app/tray/tray_app.hpp"
#include "app/version.hpp"

extern "C" int drover_tray_main(int argc, char** argv,
                                const drover_tray_launch* launch) {
  if (launch == nullptr || launch->version == nullptr
      || std::strcmp(launch->version, drover::version) != 0) {
    std::fprintf(stderr,
                 "drover: the tray's library (version %s) does not belong to "
                 "this drover (version %s): reinstall Drover\n",
                 drover::version,
                 launch != nullptr && launch->version != nullptr
                     ? launch->version
                     : "unknown");
    return 1;
  }
  namespace tray = drover::tray;
  tray::tray_options o;
  o.program = QString::fromStdString(
      drover::platform::current_executable().u8string());
  o.config_path = QString::fromUtf8(launch->config_path);
  o.trace = launch->trace != 0;
  for (auto& path : drover::platform::control_socket_candidates())
    o.engine_sockets << QString::fromStdString(path);
  o.version = QString::fromLatin1(drover::version);
  o.autostart_entry = tray::autostart::default_entry_path();
  if (launch->after_update != nullptr)
    o.after_update = QString::fromUtf8(launch->after_update);
  o.start_stopped = launch->start_stopped != 0;
  return tray::run_tray(
      argc, argv, o,
      QString::fromStdString(drover::platform::user_runtime_dir().u8string()));
}
