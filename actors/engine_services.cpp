#include "actors/engine_services.hpp"

#include <algorithm>

#include <caf/actor_system.hpp>

namespace drover {

void service_keeper::start(caf::local_actor* self, const supervisor_actor& sup,
                           std::vector<engine_service> services,
                           const config::settings& in_force,
                           const say_fn& say) {
  for (auto& s : services)
    running_.push_back({std::move(s), nullptr, {}});
  for (size_t i = 0; i < running_.size(); ++i)
    spawn(self, sup, i, in_force, say);
}

void service_keeper::spawn(caf::local_actor* self, const supervisor_actor& sup,
                           size_t i, const config::settings& in_force,
                           const say_fn& say) {
  auto& r = running_[i];
  std::string error;
  r.actor = r.service.spawn(self->system(), sup, in_force, error);
  if (!r.actor) {
    say(event_kind::info, "cannot start " + r.service.name + " (" + error
                              + "): " + r.service.without_it);
    return;
  }
  self->monitor(r.actor);
}

std::vector<caf::actor> service_keeper::actors() const {
  std::vector<caf::actor> out;
  for (auto& r : running_)
    if (r.actor)
      out.push_back(r.actor);
  return out;
}

bool service_keeper::on_down(caf::local_actor* self,
                             const supervisor_actor& sup,
                             const caf::down_msg& dm, const std::string& why,
                             const config::settings& in_force,
                             const say_fn& say) {
  for (size_t i = 0; i < running_.size(); ++i) {
    auto& r = running_[i];
    if (!r.actor || r.actor.address() != dm.source)
      continue;
    r.actor = nullptr;
    auto now = self->clock().now();
    auto& times = r.restarts;
    times.erase(std::remove_if(times.begin(), times.end(),
                               [&](caf::actor_clock::time_point t) {
                                 return now - t > std::chrono::minutes{1};
                               }),
                times.end());
    if (times.size() >= 2) {
      say(event_kind::info, r.service.name + " stopped again (" + why
                                + "): " + r.service.without_it);
      return true;
    }
    times.push_back(now);
    say(event_kind::info,
        r.service.name + " stopped (" + why + "); started again");
    spawn(self, sup, i, in_force, say);
    return true;
  }
  return false;
}

caf::actor service_keeper::actor_of(std::string_view name) const {
  for (auto& r : running_)
    if (r.service.name == name)
      return r.actor;
  return {};
}

void service_keeper::stop(caf::local_actor* self, bool last) {
  for (auto& r : running_) {
    if (!r.actor || r.service.stops_last != last)
      continue;
    self->demonitor(r.actor);
    self->send_exit(r.actor, caf::exit_reason::user_shutdown);
    r.actor = nullptr;
  }
}

} // namespace drover
