#include "app/tray_loader.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "actors/platform/files.hpp"
#include "app/tray/module.hpp"
#include "app/version.hpp"

namespace drover::cli {

int run_tray_module(int argc, char** argv, const tray_request& request,
                    std::ostream& err) {
  namespace fs = std::filesystem;
  auto dir = platform::current_executable().parent_path();
  std::vector<fs::path> candidates{
      dir / tray::module_file,
      (dir / ".." / "lib" / "drover" / tray::module_file).lexically_normal()};
  std::string problems;
  for (auto& path : candidates) {
    std::error_code ec;
    if (!fs::exists(path, ec))
      continue;
    // Only a module the executable's own installation holds: both places
    // are beside it, writable by whoever could replace drover itself.
    void* module = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (module == nullptr) {
      const char* why = ::dlerror();
      problems += "\n  " + path.string() + ": " + (why ? why : "cannot load");
      continue;
    }
    using entry_fn = int (*)(int, char**, const drover_tray_launch*);
    auto entry
        = reinterpret_cast<entry_fn>(::dlsym(module, tray::module_entry));
    if (entry == nullptr) {
      problems += "\n  " + path.string() + ": not Drover's tray library";
      ::dlclose(module);
      continue;
    }
    drover_tray_launch launch{
        drover::version, request.config_path.c_str(), request.trace ? 1 : 0,
        request.after_update.c_str(), request.start_stopped ? 1 : 0};
    return entry(argc, argv, &launch); // the module stays until exit
  }
  err << "drover: cannot show the tray: its library " << tray::module_file
      << " is missing or broken (looked in " << candidates[0].parent_path()
      << " and " << candidates[1].parent_path() << ")" << problems
      << "\nReinstall Drover, or run the engine without a tray: "
         "drover --headless\n";
  return exit_failure;
}

} // namespace drover::cli
