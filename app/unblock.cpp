#include "app/unblock.hpp"

#include "actors/platform/capture.hpp"
#include "app/cli.hpp"

namespace drover::cli {

int unblock(std::ostream& out, std::ostream& err) {
  auto r = platform::remove_leftovers();
  if (r.engine_runs) {
    err << "drover unblock: Drover's engine is running and holds the chosen "
           "programs: nothing was removed. Choose Stop in its tray menu (or "
           "run `drover stop`) to let them go direct.\n";
    return exit_failure;
  }
  if (!r.removed.empty()) {
    out << "Removed what a Drover engine that ended without Stop had left "
           "to keep the chosen programs offline:\n";
    for (auto& what : r.removed)
      out << "  " << what << '\n';
  }
  for (auto& what : r.tidied)
    out << "Also removed " << what << " (they held nothing back).\n";
  if (!r.error.empty()) {
    err << "drover unblock: " << r.error << '\n';
    return exit_failure;
  }
  out << (r.removed.empty() ? "Nothing to remove: no Drover engine had left "
                              "programs blocked here.\n"
                            : "The chosen programs go direct now.\n");
  return exit_ok;
}

} // namespace drover::cli
