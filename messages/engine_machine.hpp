#pragma once

// The engine state machine (seed §"Engine state machine", the E3 recovery
// table) as pure code: inputs (the user's Start, a part's exit, a proxy
// check's result, a timer, the computer going to sleep, ...) go in, the
// commands the supervisor carries out come out. No actors, no clocks of its
// own (inputs carry `now`) and no system calls, so every row is unit-tested
// (tests/messages/engine_machine_test.cpp); actors/supervisor.cpp only
// carries the commands out and feeds back what happened.
//
// Where the engine is, `phase()`:
//
//   idle ──start──> (old session still going away? waiting_for_old_session)
//        ──> start_parts ──> checking ──check ok──> active
//                                  └──unreachable──> reconnecting ──timer──┘
//   active/checking/reconnecting ──proxy refused──> failed_running
//   any running phase ──a part died──> stopping ─> failed_holding, or
//                     ──packet handle lost──> stopping ─> reopen_wait ─> start
//   running ──sleep──> paused_running ──wake──> waking_running ──> checking
//   stopping ──(then)──> idle | restart | reopen | paused_down | failed_holding
//
// The capture guard (the targets captured or nowhere) is opened by the
// first start and released only by Stop or Quit: every other path keeps it.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "messages/recovery_policy.hpp"
#include "messages/types.hpp"

namespace drover {

/// Where the engine is: what runs, and what it waits for.
enum class engine_phase : uint8_t {
  idle,                    // nothing runs, nothing is captured
  waiting_for_old_session, // a start waits until the last session is gone
  starting,                // start_parts was asked for; its answer comes next
  checking,                // the parts run; the proxy's first check runs
  active,                  // proxying
  reconnecting,            // the parts run; the proxy is retried on a timer
  failed_running,          // the proxy refused us: the parts run, refusing
  failed_holding,          // the parts are down, the capture is held
  reopen_wait,             // the packet handle was lost: reopen on a timer
  stopping,                // the parts are stopping; `after_stop` says next
  paused_running,          // asleep: the parts run, every flow is dropped
  paused_down,             // asleep: the parts are down
  waking_running,          // woke up, parts running: waiting for a route
  waking_down,             // woke up, parts down: waiting for a route
};

/// What follows once every part is down.
enum class after_stop : uint8_t {
  idle,         // a Stop: release the guard, Idle
  failed,       // keep the capture (fail closed), Failed
  restart,      // start again on the same guard
  reopen_later, // the packet handle was lost: reopen when the timer fires
  reopen_now,   // ... and the timer already fired
  pause,        // the computer sleeps: Paused
  wake,         // paused, then woke up before the parts were down
};

/// Why the parts are started, which the Starting event says.
enum class start_kind : uint8_t { fresh, restart, reopen, wake };

enum class command_kind : uint8_t {
  publish,          // tell every listener: `event`
  start_parts,      // open the guard (if not yet), the capture and the
                    // parts; answer on_parts_started() or on_start_failed()
  stop_parts,       // stop every part; answer on_parts_stopped() once the
                    // last is down (at once when none runs)
  release_capture,  // let go of a capture held while the parts are down
  release_guard,    // the targets are no longer captured
  check_proxy,      // check proxy `proxy`; answer on_check()
  new_flows,        // the policy for proxy `proxy`'s targets (every
                    // proxy's with `every_proxy`): through it
                    // (`proxying`) or not, and UDP too (`udp_proxying`)
  end_flows,        // every flow ends now, then answer the sleep requests
  answer_sleepers,  // the OS may sleep: answer every sleep request
  retry_after,      // on_timer(operation) after `delay` (a proxy's retry:
                    // `proxy` says which)
  look_for_network, // on_network(route, looks) after `delay`
  quit,             // the supervisor's work is done
};

struct engine_command {
  command_kind kind = command_kind::publish;
  engine_event event;                   // publish (time set by the caller)
  start_kind start = start_kind::fresh; // start_parts
  bool proxying = false;                // new_flows
  bool udp_proxying = false;            // new_flows: false for a TCP-only proxy
  bool every_proxy = false;             // new_flows: all proxies at once
  uint32_t proxy = 0;                   // check_proxy, new_flows, retry_after
  std::chrono::milliseconds delay{0};   // retry_after, look_for_network
  uint64_t operation = 0;               // retry_after
  uint32_t looks = 0;                   // look_for_network
};

using engine_commands = std::vector<engine_command>;

/// A proxy check's result, as the machine needs it.
struct check_result {
  uint32_t proxy = 0; // which proxy (its place in the config)
  bool ok = false;
  failure_class failure = failure_class::none;
  std::string reason;
  uint32_t proxy_ip = 0; // where the proxy's name points now (0: unknown)
  /// The proxy answered UDP ASSOCIATE. A proxy that refused it (a TCP-only
  /// proxy) is still Active: TCP goes through it, UDP follows the fallback.
  bool udp = true;
  std::string udp_reason; // how it refused, for a user
};

/// One upstream as the machine names it in sentences.
struct proxy_ref {
  std::string name; // empty when it is the only one and has none
  std::string host;
  uint16_t port = 0;
  /// Its targets' UDP while it cannot carry it (a TCP-only proxy): direct
  /// (true), or blocked. Said in the Active event.
  bool udp_direct = false;
};

/// Where one proxy is while the parts run.
enum class proxy_phase : uint8_t {
  checking,     // its first check is out
  up,           // proxying through it (`tcp_only`: TCP only)
  reconnecting, // retried on a timer
  failed,       // given up, or it refused us: its targets fail closed
};

/// One proxy's health, as `status` and the tray show it.
struct proxy_health {
  proxy_ref ref;
  proxy_phase phase = proxy_phase::checking;
  bool tcp_only = false;
  std::string udp_reason; // how it refused UDP ASSOCIATE
  uint32_t attempt = 0;   // reconnecting: which attempt
  std::string reason;     // reconnecting, failed: why, for a user
  uint32_t ip = 0;        // its address in use (0: not found)
};

/// What a new config changed, as the machine acts on it.
struct config_change {
  bool proxy = false;        // [proxy]: any proxy's keys, or how many
  bool targets = false;      // [targets] (applied live)
  bool rules = false;        // [[rule]] (applied live)
  bool ui = false;           // [ui] (applied live)
  bool engine = false;       // [engine]: `timing` applies to the next series
  bool engine_parts = false; // [engine]'s flow keys (idle timeouts,
                             // max_flows): the parts restart onto them
  bool skip = false;         // [skip]: the parts restart onto it (the
                             // capture stays: nothing goes around)
  std::vector<proxy_ref> proxies; // the proxies now in force
  recovery_timing timing;
};

class engine_machine {
public:
  using time_point = recovery_policy::time_point;

  /// One proxy, named by `host` and `port` in the engine's sentences.
  explicit engine_machine(recovery_timing timing = {}, std::string host = {},
                          uint16_t port = 0);
  /// Several proxies (at least one), each with its own check, backoff and
  /// state: one that fails never stops the others.
  engine_machine(recovery_timing timing, std::vector<proxy_ref> proxies);

  /// What every proxy's targets' UDP does while it cannot go through the
  /// proxy (a TCP-only proxy): direct, or blocked.
  void set_udp_fallback(bool direct);

  // The user's requests.
  engine_commands on_start();
  engine_commands on_stop();
  engine_commands on_retry(); // Retry: from Failed only
  engine_commands on_quit();  // stop, then quit

  // Answers to the commands.
  /// The parts run; the proxies are at `proxy_ips` (0: not found), in
  /// order (one value: the first proxy's; the others not found).
  engine_commands on_parts_started(std::vector<uint32_t> proxy_ips);
  engine_commands on_parts_started(uint32_t proxy_ip) {
    return on_parts_started(std::vector<uint32_t>{proxy_ip});
  }
  engine_commands on_start_failed(failure_class failure,
                                  const std::string& reason);
  engine_commands on_parts_stopped();
  engine_commands on_session_gone();
  engine_commands on_check(const check_result& c, time_point now);
  engine_commands on_timer(uint64_t operation);
  engine_commands on_network(bool route, uint32_t looks);

  // From the engine and the system.
  /// A part exited by itself. For a panic, `why` is the whole sentence
  /// (the supervisor wrote the crash report first).
  engine_commands on_part_down(failure_class failure, const std::string& why,
                               time_point now);
  /// A session could not use `proxy`: check it (when it is up).
  engine_commands on_check_wanted(uint32_t proxy = 0);
  engine_commands on_sleep();
  engine_commands on_wake();
  /// A new config is in force (the supervisor applied [targets] live).
  /// Says what changed; a new proxy restarts the parts onto it (when they
  /// run); new timing is used from the next series on.
  engine_commands on_config(const config_change& c);

  engine_phase phase() const { return phase_; }
  after_stop then() const { return after_; }
  /// What `status` shows: the latest state change.
  engine_state state() const { return shown_; }
  /// The parts run and are not on their way down.
  bool parts_running() const;
  /// A proxy check is out.
  bool checking() const;
  uint64_t operation() const { return operation_; }
  /// The first proxy's address (what waking up waits for a route to).
  uint32_t proxy_ip() const { return upstreams_.front().health.ip; }
  /// Active through a first proxy that does not relay UDP.
  bool tcp_only() const { return upstreams_.front().health.tcp_only; }
  std::vector<proxy_health> proxies() const;
  bool guard_held() const { return guard_held_; }
  int sessions_alive() const { return sessions_alive_; }

private:
  void publish(engine_commands& out, event_kind kind, engine_state state,
               std::string reason, failure_class failure = failure_class::none,
               uint32_t attempt = 0);
  void begin(engine_commands& out, start_kind kind);
  void stop_parts(engine_commands& out, after_stop then);
  void stopped(engine_commands& out);
  void fail(engine_commands& out, failure_class failure,
            const std::string& reason, bool parts_healthy = false);
  void check(engine_commands& out, size_t proxy);
  void check_all(engine_commands& out);
  void release_all(engine_commands& out);

  /// How sentences name proxy `i`: "host:port" when it is the only one,
  /// else "name (host:port)".
  std::string proxy_text(size_t i) const;
  std::string proxies_text() const;
  /// "" for the only proxy, else "proxy NAME: ", before its sentences.
  std::string about(size_t i) const;
  void go_active(engine_commands& out, size_t proxy, uint32_t attempts);
  void proxy_failed(engine_commands& out, size_t proxy, failure_class failure,
                    const std::string& reason);
  /// The engine's phase and shown state from the proxies' (while the
  /// parts run and the engine is not asleep or stopping).
  engine_phase phase_of_proxies() const;
  engine_state state_of_proxies() const;
  void cancel_timers();
  void reset_policy() {
    policy_ = recovery_policy{timing_};
    timing_pending_ = false;
  }
  void reset_proxy_policies();

  /// What one proxy's machine keeps beside what it shows.
  struct upstream {
    proxy_health health;
    recovery_policy policy;
    bool timing_pending = false;
    bool checking = false; // a check is out
    uint64_t timer = 0;    // the operation its retry timer carries; 0: none
  };

  recovery_timing timing_;
  recovery_policy policy_; // the parts' failures (a lost packet handle)
  engine_phase phase_ = engine_phase::idle;
  after_stop after_ = after_stop::idle;
  start_kind pending_start_ = start_kind::fresh;
  engine_state shown_ = engine_state::idle;
  uint32_t shown_attempt_ = 0;
  bool timing_pending_ = false; // new timing, once the running series ends
  bool quit_ = false;
  bool guard_held_ = false;
  bool capture_held_ = false;
  int sessions_alive_ = 0;
  uint64_t operation_ = 0;          // which timer is current
  std::vector<upstream> upstreams_; // one per proxy, in the config's order
};

const char* to_string(proxy_phase p);

/// "2 s", "500 ms", "5 min": a duration in the engine's sentences.
std::string duration_text(std::chrono::milliseconds d);

const char* to_string(engine_phase p);

} // namespace drover
