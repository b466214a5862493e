#pragma once

// What the engine tells its listeners (the tray, `drover follow`, the
// control server's `status`): every event, logged and traced, the latest
// state, and the last events for a listener that joins late.

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "messages/interfaces.hpp"

namespace drover {

class engine_timeline {
public:
  static constexpr size_t recent_events = 50;

  engine_timeline() { last_.time = caf::make_timestamp(); }

  /// Records `e` (stamped now), logs and traces it as `source`'s, and sends
  /// it to every listener.
  void publish(const std::string& source, engine_event e);

  /// publish() an event that does not change the state (the Timeline's
  /// "info", a config error, ...).
  void say(const std::string& source, event_kind kind, std::string text);

  /// say() as `source`, for others to call (the timeline outlives them).
  std::function<void(event_kind, std::string)> speaker(std::string source) {
    return [this, source](event_kind kind, std::string text) {
      say(source, kind, std::move(text));
    };
  }

  /// The latest state change (what `status` shows as the state).
  const engine_event& last() const { return last_; }
  const std::deque<engine_event>& recent() const { return recent_; }

  engine_status status(const stats_snapshot& stats) const;

  void subscribe(engine_listener_actor l) { listeners_.push_back(l); }
  /// A listener went away.
  void forget(const caf::actor_addr& who);
  /// The counters of the last second, to every listener.
  void send(const stats_snapshot& stats) const;
  const std::vector<engine_listener_actor>& listeners() const {
    return listeners_;
  }

private:
  engine_event last_;
  std::deque<engine_event> recent_; // oldest first
  uint64_t reconnect_attempts_ = 0; // every one published, for metrics
  uint64_t restarts_ = 0;
  std::vector<engine_listener_actor> listeners_;
};

} // namespace drover
