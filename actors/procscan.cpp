#include "actors/procscan.hpp"

#include <algorithm>
#include <cctype>

#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/panic.hpp"
#include "actors/platform/process.hpp"

namespace drover {

namespace {

constexpr auto scan_interval = std::chrono::seconds{2};

[[maybe_unused]] bool ends_with_exe(const std::string& s) {
  return s.size() > 4
         && std::equal(s.end() - 4, s.end(), ".exe", [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a)) == b;
            });
}

void scan(procscan_actor::stateful_pointer<procscan_state> self) {
  auto& st = self->state;
  process_set found;
  auto listed = platform::list_processes();
  if (!listed) {
    // Keep what was found last: a scan that cannot read the process list
    // (no descriptor left, say) must not forget the targets.
    log::get(self->name())
        ->warn("cannot list the running processes; the targets found "
               "before stay");
    return;
  }
  for (auto& p : *listed) {
    if (p.pid == platform::current_process_id() || !p.served)
      continue;
    bool target = std::any_of(
        st.targets.begin(), st.targets.end(), [&](const std::string& t) {
          return process_matches(p.name, t)
                 || (!p.command.empty() && process_matches(p.command, t));
        });
    if (!target)
      continue;
    found.processes.push_back({p.pid, p.parent_pid, p.name});
    if (st.adopted.insert(p.pid).second) {
      std::string error;
      if (st.capture->add_target(p.pid, error)) {
        log::get(self->name())->info("capturing {} (pid {})", p.name, p.pid);
        trace::record(self->name(), "adopt",
                      {{"pid", p.pid}, {"name", p.name}});
      } else {
        log::get(self->name())
            ->warn("cannot capture {} (pid {}): {}", p.name, p.pid, error);
      }
    }
  }
  // Forget processes that are gone, so a reused PID is looked at again.
  for (auto it = st.adopted.begin(); it != st.adopted.end();) {
    bool alive
        = std::any_of(found.processes.begin(), found.processes.end(),
                      [&](const process_info& i) { return i.pid == *it; });
    if (!alive)
      st.capture->forget_target(*it);
    it = alive ? std::next(it) : st.adopted.erase(it);
  }
  bool changed
      = found.processes.size() != st.current.processes.size()
        || !std::equal(found.processes.begin(), found.processes.end(),
                       st.current.processes.begin(),
                       [](const process_info& a, const process_info& b) {
                         return a.pid == b.pid;
                       });
  if (changed) {
    found.generation = st.current.generation + 1;
    st.current = found;
    self->send(st.parent, st.current);
  }
}

} // namespace

bool process_matches(const std::string& process, const std::string& target) {
#ifdef _WIN32
  return process.size() == target.size()
         && std::equal(process.begin(), process.end(), target.begin(),
                       [](char a, char b) {
                         return std::tolower(static_cast<unsigned char>(a))
                                == std::tolower(static_cast<unsigned char>(b));
                       });
#else
  if (process == target)
    return true;
  return ends_with_exe(target)
         && process == target.substr(0, target.size() - 4);
#endif
}

procscan_actor::behavior_type
procscan(procscan_actor::stateful_pointer<procscan_state> self,
         platform::capture_session* capture, std::vector<std::string> targets,
         supervisor_actor parent) {
  report_panics(self);
  self->state.capture = capture;
  self->state.targets = std::move(targets);
  self->state.parent = std::move(parent);
  self->send(self, atom::internal_v);
  return {
      [=](atom::scan) { scan(self); },
      [=](atom::internal) {
        scan(self);
        self->delayed_send(self, scan_interval, atom::internal_v);
      },
      [=](atom::update, std::vector<std::string> names) {
        self->state.targets = std::move(names);
        scan(self);
      },
      [=](atom::get, atom::processes) { return self->state.current; },
  };
}

} // namespace drover
