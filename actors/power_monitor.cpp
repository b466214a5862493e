#include "actors/power_monitor.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "actors/log/logging.hpp"
#include "actors/log/trace.hpp"
#include "actors/panic.hpp"
#include "actors/platform/power_events.hpp"

namespace drover {

power_monitor_actor::behavior_type
power_monitor(power_monitor_actor::stateful_pointer<power_monitor_state> self,
              supervisor_actor supervisor) {
  report_panics(self);
  auto& st = self->state;
  st.supervisor = std::move(supervisor);
  auto events = std::make_shared<platform::power_events>();
  auto lg = log::get(self->name());
  if (!events->ok()) {
    lg->warn("{}: Drover will not notice when the computer sleeps",
             events->error());
  } else {
    st.events = events;
#ifdef _WIN32
    lg->info("following sleep and wake (WM_POWERBROADCAST)");
#else
    lg->info("following sleep and wake through logind");
#endif
    st.waiter.stop = [events] {
      events->stop();
    };
    auto me = caf::actor_cast<caf::actor_addr>(self);
    st.waiter.thread = std::thread{[events, me] {
      for (;;) {
        auto e = events->wait();
        auto target = caf::actor_cast<caf::actor>(me);
        if (!target || e == platform::power_events::event::stopped)
          return;
        if (e == platform::power_events::event::failed) {
          caf::anon_send(target, atom::internal_v, events->error());
          return;
        }
        if (e == platform::power_events::event::sleep)
          caf::anon_send(target, atom::sleep_v);
        else
          caf::anon_send(target, atom::resume_v);
      }
    }};
  }
  return {
      [=](atom::sleep) {
        trace::record(self->name(), "sleep", {});
        auto os = self->state.events;
        // The OS may sleep once the engine has paused (or after the
        // budget, whatever the engine says).
        self->request(self->state.supervisor, power_monitor_state::pause_budget,
                      atom::sleep_v)
            .then([os](bool) { os->ready_to_sleep(); },
                  [os](caf::error&) { os->ready_to_sleep(); });
      },
      [=](atom::resume) {
        trace::record(self->name(), "wake", {});
        self->send(self->state.supervisor, atom::resume_v);
      },
      [=](atom::internal, const std::string& why) {
        log::get(self->name())
            ->warn("{}: Drover no longer notices when the computer sleeps",
                   why);
      },
      [=](atom::stop) { self->quit(); },
  };
}

} // namespace drover
