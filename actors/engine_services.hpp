#pragma once

// The actors that run beside the engine's parts for the engine's whole life
// (the config watcher, the power monitor, the control server). The
// supervisor spawns them, watches them and starts one again should it stop
// by itself, twice a minute at most: a third stop within a minute is said
// and left alone (it would only stop again).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/local_actor.hpp>

#include "config/settings.hpp"
#include "messages/interfaces.hpp"

namespace drover {

/// The service that holds the config in force (the config-watcher): it
/// watches the file and takes `config set`.
inline constexpr std::string_view config_store_service = "the config watcher";
/// The Prometheus endpoint: told a new `[metrics] listen` as it changes.
inline constexpr std::string_view metrics_service = "the metrics endpoint";

struct engine_service {
  std::string name;        // "the config watcher"
  std::string without_it;  // what the user loses while it is down
  bool stops_last = false; // stopped after the engine (the control server
                           // answers until the engine is down)
  // `in_force`: the config in force when it is (re)started, so one started
  // again after a crash takes the latest values, not the engine's start's.
  std::function<caf::actor(caf::actor_system&, const supervisor_actor&,
                           const config::settings& in_force,
                           std::string& error)>
      spawn;
};

class service_keeper {
public:
  /// What to tell the user (an event of `kind`).
  using say_fn = std::function<void(event_kind kind, std::string text)>;

  /// Spawns every service, monitored by `self`.
  void start(caf::local_actor* self, const supervisor_actor& sup,
             std::vector<engine_service> services,
             const config::settings& in_force, const say_fn& say);

  /// The services running now.
  std::vector<caf::actor> actors() const;

  /// A down message: true when it was one of the services (started again,
  /// or left down, and said either way); `why` is its exit in words.
  bool on_down(caf::local_actor* self, const supervisor_actor& sup,
               const caf::down_msg& dm, const std::string& why,
               const config::settings& in_force, const say_fn& say);

  /// The running service called `name`; empty when it is down.
  caf::actor actor_of(std::string_view name) const;

  /// Stops the services that stop first (`last` false) or last.
  void stop(caf::local_actor* self, bool last);

private:
  void spawn(caf::local_actor* self, const supervisor_actor& sup, size_t i,
             const config::settings& in_force, const say_fn& say);

  struct running {
    engine_service service;
    caf::actor actor;
    std::vector<caf::actor_clock::time_point> restarts; // the latest ones
  };
  std::vector<running> running_;
};

} // namespace drover
