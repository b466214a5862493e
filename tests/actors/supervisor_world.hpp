#pragma once

// The supervisor's test world, on CAF's deterministic test coordinator: a
// fake capture, scripted proxy checks and name lookups, no listener. Time
// moves only when the test moves it, so every row of the recovery table
// and every backoff step is checked exactly. Shared by supervisor_test.cpp
// (the proxy and its recovery) and supervisor_parts_test.cpp (the parts,
// the guard and the services).

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/config_watcher.hpp"
#include "actors/supervisor.hpp"
#include "tests/support/caf_test.hpp"
#include "tests/support/fake_capture.hpp"

namespace drover::test::supervisor_world {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using event_log = std::shared_ptr<std::vector<engine_event>>;

inline engine_listener_actor::behavior_type
collector(engine_listener_actor::pointer, event_log out) {
  return {[=](const engine_event& e) { out->push_back(e); },
          [](const stats_snapshot&) {
          }};
}

// What the platform answers, scripted by each test.
struct script {
  std::deque<probe_verdict> verdicts; // then: ok
  std::map<std::string, std::string> names{{"proxy.test", "10.0.0.1"}};
  bool route = true;
  std::vector<std::string> probed; // the address of every probe
  int lookups = 0;
  int captures = 0;
  // Sessions destroyed (each closes its packet queue).
  std::shared_ptr<int> sessions_destroyed = std::make_shared<int>(0);
  int guards = 0;
  std::shared_ptr<test::fake_guard> guard; // the latest
};

class supervisor_test : public test::caf_fixture {
protected:
  supervisor_test()
      : events(std::make_shared<std::vector<engine_event>>()),
        crash_dir(fs::temp_directory_path()
                  / ("drover-sup-" + std::to_string(::getpid()))) {
    fs::remove_all(crash_dir);
    settings.proxies[0].host = "proxy.test";
    settings.proxies[0].port = 1080;
    settings.rules[0].apps = {"no-such-program-here"};
  }

  ~supervisor_test() override {
    if (sup) {
      self->send_exit(sup, caf::exit_reason::user_shutdown);
      sched.run();
    }
    std::error_code ec;
    fs::remove_all(crash_dir, ec);
  }

  supervisor_ports ports() {
    supervisor_ports p;
    auto s = sc;
    p.open_guard = [s](const platform::guard_options&) {
      s->guards++;
      platform::guard_result r;
      s->guard = std::make_shared<test::fake_guard>();
      r.guard = s->guard;
      return r;
    };
    p.open_capture = [s](const platform::capture_options&) {
      s->captures++;
      platform::capture_result r;
      r.session = std::make_unique<test::fake_capture>(s->sessions_destroyed);
      return r;
    };
    p.probe = [s](const probe_request& req) {
      s->probed.push_back(net::to_string(req.proxy.ip));
      probe_result r;
      r.verdict = probe_verdict::ok;
      if (!s->verdicts.empty()) {
        r.verdict = s->verdicts.front();
        s->verdicts.pop_front();
      }
      if (r.verdict != probe_verdict::ok)
        r.reason = "TCP connect: Connection refused";
      return r;
    };
    p.resolve = [s](const std::string& host,
                    std::string& error) -> std::optional<net::ipv4_address> {
      s->lookups++;
      auto it = s->names.find(host);
      if (it == s->names.end()) {
        error = "no such host";
        return std::nullopt;
      }
      return net::parse_ipv4(it->second);
    };
    p.has_route = [s](net::ipv4_address) {
      return s->route;
    };
    p.probe_on_own_thread = false;
    p.with_listener = false;
    p.watch_on_own_thread = false;
    p.crash_dir = crash_dir;
    p.services = services;
    return p;
  }

  void spawn() {
    sup = sys.spawn(supervisor_with_ports, settings, ports());
    auto listener = sys.spawn(collector, events);
    ask<engine_status>(sup, atom::subscribe_v, listener);
  }

  void start() {
    spawn();
    self->send(sup, atom::start_v);
    sched.run();
  }

  // Moves the clock in small steps, so timers set along the way fire too.
  void pass(caf::timespan total, caf::timespan step = 100ms) {
    for (caf::timespan t{0}; t < total; t += step)
      advance(step);
  }

  const engine_event& last() const { return events->back(); }

  // The last state change or reconnect attempt (what `status` shows).
  engine_event current() const {
    for (auto it = events->rbegin(); it != events->rend(); ++it)
      if (it->kind == event_kind::state_changed
          || it->kind == event_kind::reconnect_attempt
          || it->kind == event_kind::restart)
        return *it;
    return {};
  }

  std::vector<engine_event> of_kind(event_kind k) const {
    std::vector<engine_event> out;
    for (auto& e : *events)
      if (e.kind == k)
        out.push_back(e);
    return out;
  }

  std::string fault(const std::string& what) {
    std::string said;
    auto pending = self->request(sup, caf::infinite, atom::fault_v, what);
    sched.run();
    pending.receive([&](const std::string& s) { said = s; },
                    [&](const caf::error&) { said = "error"; });
    sched.run();
    return said;
  }

  config::settings settings;
  std::shared_ptr<script> sc = std::make_shared<script>();
  event_log events;
  fs::path crash_dir;
  supervisor_actor sup;
  std::vector<engine_service> services;
};

} // namespace drover::test::supervisor_world
