#include "actors/guard_watch.hpp"

#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>

#include "actors/log/trace.hpp"
#include "actors/panic.hpp"

namespace drover {

guard_watch_actor::behavior_type
guard_watch(guard_watch_actor::stateful_pointer<guard_watch_state> self,
            std::shared_ptr<platform::capture_guard> guard,
            supervisor_actor parent, std::chrono::milliseconds interval) {
  report_panics(self);
  auto& st = self->state;
  st.guard = std::move(guard);
  st.parent = std::move(parent);
  st.interval = interval;
  self->delayed_send(self, interval, atom::internal_v);
  return {
      [=](atom::internal) {
        auto& s = self->state;
        std::string error;
        auto repaired = s.guard->repair(error);
        if (!repaired.empty()) {
          trace::record(self->name(), "repaired", {{"what", repaired}});
          self->send(s.parent, atom::repair_v,
                     "put the capture back in place: " + repaired);
        }
        if (!error.empty() && error != s.last_error)
          self->send(s.parent, atom::repair_v,
                     "cannot put the capture back in place: " + error);
        s.last_error = error;
        self->delayed_send(self, s.interval, atom::internal_v);
      },
  };
}

guard_watch_actor
spawn_guard_watch(caf::local_actor* self,
                  std::shared_ptr<platform::capture_guard> guard,
                  const supervisor_actor& parent,
                  std::chrono::milliseconds interval, bool own_thread) {
  auto& sys = self->system();
  auto a = own_thread
               ? sys.spawn<caf::detached>(guard_watch, guard, parent, interval)
               : sys.spawn(guard_watch, guard, parent, interval);
  self->monitor(a);
  return a;
}

std::string
release_guard_and_watch(caf::local_actor* self,
                        std::shared_ptr<platform::capture_guard>& guard,
                        guard_watch_actor& watchdog) {
  if (watchdog) {
    self->demonitor(watchdog.address());
    self->send_exit(watchdog, caf::exit_reason::user_shutdown);
    watchdog = nullptr;
  }
  std::string problem;
  if (guard) {
    problem = guard->release();
    guard.reset();
  }
  return problem;
}

} // namespace drover
