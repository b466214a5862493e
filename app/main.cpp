#include <iostream>

#include "actors/platform/process.hpp"
#include "app/cli.hpp"

#if defined(DROVER_TRAY_MODULE)
#  include "app/tray_loader.hpp"
#elif defined(DROVER_WITH_TRAY)
#  include "app/tray/module.hpp"
#  include "app/version.hpp"
#endif

int main(int argc, char** argv) {
  drover::platform::attach_parent_console();
#if defined(DROVER_TRAY_MODULE)
  // Linux: the tray lives in drover-tray.so, loaded only to show it.
  drover::cli::set_tray_runner([&](const drover::cli::tray_request& r) {
    return drover::cli::run_tray_module(argc, argv, r, std::cerr);
  });
#elif defined(DROVER_WITH_TRAY)
  // Windows: the tray is linked in (static Qt, one file to install).
  drover::cli::set_tray_runner([&](const drover::cli::tray_request& r) {
    drover_tray_launch launch{drover::version, r.config_path.c_str(),
                              r.trace ? 1 : 0, r.after_update.c_str(),
                              r.start_stopped ? 1 : 0};
    return drover_tray_main(argc, argv, &launch);
  });
#endif
  return drover::cli::run(argc, argv, std::cout, std::cerr);
}
