#include "actors/platform/capture.hpp"

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "actors/platform/files.hpp"
#include "actors/platform/lan_broadcasts.hpp"
#include "actors/platform/process.hpp"
#include "actors/platform/windows/crash_block.hpp"
#include "actors/platform/windows/invoking_user.hpp"
#include "actors/platform/windows/local_addresses.hpp"
#include "actors/platform/windows/socket_tables.hpp"
#include "actors/platform/windows/win32.hpp"
#include "actors/platform/windows/windivert_port.hpp"
#include "net/capture_rules.hpp"

namespace drover::platform {

namespace {

using windivert::divert_port;
using windivert::target_set;

// Closing a NETWORK handle re-injects its queued packets unmodified: they
// would leak out direct, and so would whatever a target sends while no
// handle diverts it. So a session that ends hands its port to the fence: a
// thread that goes on reading it, passing other programs' packets as the
// session did and holding back the targets' (dropped: TCP sends them
// again), and those of sockets whose owner it cannot name, until the next
// session's handle is open at a lower priority (the old handle's queue then
// lands there, windivert-facts §6) or the engine stops (the guard is released:
// the targets go direct then).
class fence {
public:
  void take(std::unique_ptr<divert_port> port) {
    std::lock_guard<std::mutex> guard{mutex_};
    close_locked();
    port_ = std::move(port);
    port_->fence();
    port_->resume(); // its session's reader stopped it
    thread_ = std::thread{[this, p = port_.get()] {
      auto batch = p->new_batch();
      // What it captured gets no verdict: dropped.
      while (p->receive(*batch) == packet_port::receive_status::packets) {
        // Counted: the targets' (the listener's return path has no
        // sender named, and would not have gone direct).
        for (auto& packet : batch->packets)
          captured_dropped_ += packet.pid != 0 ? 1 : 0;
        batch->clear();
      }
    }};
  }

  void close() {
    std::lock_guard<std::mutex> guard{mutex_};
    close_locked();
  }

  /// The next session's handle diverts now: the fenced port goes (its
  /// queue lands on that handle), leaving it what it knew of the ports'
  /// owners.
  void hand_over_to(divert_port& next) {
    std::lock_guard<std::mutex> guard{mutex_};
    if (!port_)
      return;
    port_->stop();
    if (thread_.joinable())
      thread_.join();
    next.take_owners_from(*port_);
    close_locked();
  }

  static fence& instance() {
    static auto* f = new fence; // its thread may outlive static destruction
    return *f;
  }

  /// Packets the fences have stopped since the process started: the
  /// targets' it captured, and those whose owner it could not name.
  uint64_t dropped() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return captured_dropped_ + unnamed_dropped_
           + (port_ ? port_->stats().fenced : 0);
  }

private:
  void close_locked() {
    if (!port_)
      return;
    port_->stop();
    if (thread_.joinable())
      thread_.join();
    unnamed_dropped_ += port_->stats().fenced;
    port_.reset(); // closes the handles
  }

  mutable std::mutex mutex_;
  std::unique_ptr<divert_port> port_;
  std::thread thread_;
  std::atomic<uint64_t> captured_dropped_{0}; // from the fence's thread
  uint64_t unnamed_dropped_ = 0; // by the fenced ports already closed
};

// Windows' guard is the target set the sessions share: a restart keeps
// capturing the same processes. The packet handle itself is handed from
// session to session (below).
class windows_guard final : public capture_guard {
public:
  std::shared_ptr<target_set> targets = std::make_shared<target_set>();
  // The subnets' broadcasts, kept current while the engine runs: a network
  // joined since the capture opened gets its LAN discovery too (the
  // packet sorter lets a target's datagram to one out).
  std::shared_ptr<lan_broadcasts> broadcasts
      = std::make_shared<lan_broadcasts>();

  // The names let the port take a process at its first socket; procscan
  // adds the ones already running and forgets those that exit.
  bool set_targets(const target_selection& t, std::string&) override {
    targets->set_rules(t.rules, t.fallback, t.proxy_names);
    return true;
  }
  // Read once here, after the notifications are registered (changes_):
  // a change from now on is heard, and the watchdog keeps them current.
  explicit windows_guard(void* wfp_library)
      : crash{std::make_shared<windows_port::crash_keeper>(wfp_library)} {
    read_broadcasts();
    // A program the capture takes is blocked (should the engine be
    // killed) within moments, off the packet path; the check each second
    // tries again what Windows refused.
    blocker_ = std::thread{[targets = targets, crash = crash] {
      std::vector<std::string> fresh;
      while (targets->wait_for_new_programs(std::chrono::seconds{1}, fresh))
        if (!fresh.empty())
          crash->keep(std::move(fresh));
    }};
  }
  ~windows_guard() override { release(); }

  std::string repair(std::string& error) override {
    if (changes_.due(std::chrono::steady_clock::now()))
      read_broadcasts();
    // The blocker thread blocks each program the capture takes; this
    // tries again what Windows refused.
    auto problem = crash->keep();
    if (!problem.empty())
      error = "the block that keeps the captured programs offline if "
              "Drover's engine is killed is not in place ("
              + problem + ")";
    return {};
  }
  // At Start, then on the watchdog's thread.
  void read_broadcasts() {
    broadcasts->publish(
        net::capture::subnet_broadcasts(windows_port::interface_addresses()));
  }
  // What the fence stopped between this Start's sessions (from 0 at each
  // Start, as Linux's kernel fence counts).
  guard_counters counters() const override {
    guard_counters c;
    c.packets_fenced = fence::instance().dropped() - fenced_before_;
    return c;
  }
  // Stop: the fence between two sessions goes too.
  std::string release() override;
  std::string description() const override {
    auto problem = crash->problem();
    return problem.empty()
               ? "target processes; a Windows Filtering Platform block keeps "
                 "them offline if the engine is killed"
               : "target processes; no block if the engine is killed: "
                     + problem;
  }

  // The block for a killed engine (crash_block.hpp), shared with the
  // sessions' stall watch.
  std::shared_ptr<windows_port::crash_keeper> crash;

private:
  uint64_t fenced_before_ = fence::instance().dropped();
  windows_port::address_changes changes_;
  std::thread blocker_;
};

std::string windows_guard::release() {
  targets->stop_waiting();
  if (blocker_.joinable())
    blocker_.join();
  // The blocks go first, then the permit, then the fence: the targets go
  // direct, as the user asked.
  auto problem = crash->release();
  fence::instance().close();
  return problem;
}

// Each session opens below the one before (a packet re-injected by a
// handle goes on only to lower priorities). Thousands of restarts fit
// before the range ends; other tools (GoodbyeDPI, zapret) sit at 0.
std::atomic<int> next_priority{20000};

class windows_capture final : public capture_session {
public:
  std::shared_ptr<windivert::dll> dll;
  std::shared_ptr<target_set> targets;
  net::capture::exclusions skip;
  std::unique_ptr<divert_port> divert;
  int16_t priority = 0;

  ~windows_capture() override {
    if (divert)
      fence::instance().take(std::move(divert));
  }

  packet_port& port() override { return *divert; }
  packet_injector& injector() override { return *divert; }

  take_up add_target(uint32_t pid, uint64_t created, std::string&) override {
    // Found by the scan: it ran before the engine (or before its name was
    // added); its connections from then would stay direct.
    if (!targets->contains(pid) || targets->blocked(pid)) {
      // Its rule's fallback, as the port would have found it.
      auto id = identify_process(pid);
      if (!the_process_scanned(created, id))
        return take_up::left_alone; // gone, or another program's ID now
      auto said = id ? targets->judge(pid, *id) : target_set::verdict{};
      targets->add(pid, config::rule_action::proxy, said.direct_when_down,
                   said.proxy);
      if (id)
        targets->note_program(id->path);
      windivert::reset_tcp_connections(pid, skip);
    }
    return take_up::taken;
  }

  take_up block_target(uint32_t pid, uint64_t created, std::string&) override {
    if (!targets->blocked(pid)) {
      // A program `drover run` started (or one it started) stays its
      // proxy's, whatever a rule says of its name.
      auto id = identify_process(pid);
      if (!the_process_scanned(created, id))
        return take_up::left_alone; // gone, or another program's ID now
      auto said = id ? targets->judge(pid, *id) : target_set::verdict{};
      if (said.action == config::rule_action::proxy) {
        targets->add(pid, said.action, said.direct_when_down, said.proxy);
        if (id)
          targets->note_program(id->path);
        return take_up::taken;
      }
      targets->add(pid, config::rule_action::block);
      if (id)
        targets->note_program(id->path);
      windivert::reset_tcp_connections(pid, skip);
    }
    return take_up::taken;
  }

  bool is_target(uint32_t pid) const override {
    return targets->contains(pid) && !targets->blocked(pid);
  }

  // Whether the process, as the OS describes it now (`id`; nothing: gone),
  // is still the one the scan found (`created`: its creation time then; 0
  // unknown).
  static bool the_process_scanned(uint64_t created,
                                  const std::optional<process_identity>& id) {
    return created == 0 || (id && id->created == created);
  }

  void forget_target(uint32_t pid) override { targets->remove(pid); }

  long spawn_target(const std::vector<std::string>& argv, uint32_t proxy,
                    std::string& error) override {
    // Started suspended and made a target before its first instruction, so
    // its first socket is already captured.
    auto line = windows_port::command_line(argv);
    // As the user Drover works for, unelevated (invoking_user.hpp), never
    // with the engine's administrator rights.
    PROCESS_INFORMATION pi{};
    DWORD code = 0;
    if (!windows_port::start_suspended_as(windows_port::the_invoking_user(),
                                          line, pi, code)) {
      error = "cannot start " + (argv.empty() ? std::string{} : argv[0])
              + (code == windows_port::error_started_elevated
                     ? ": Windows started it with administrator rights, "
                       "which Drover does not give the programs it runs"
                     : ": " + windows_port::error_text(code));
      return -1;
    }
    auto id = identify_process(pi.dwProcessId);
    targets->add_run_root(pi.dwProcessId, id ? id->created : 0,
                          static_cast<uint8_t>(proxy));
    if (id)
      targets->note_program(id->path);
    ResumeThread(pi.hThread);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return static_cast<long>(pi.dwProcessId);
  }

  // `drover run` beside the engine: the caller's suspended child (or the
  // caller), checked first, as the request came from a less privileged
  // side; a target from its first socket on.
  bool join_target(uint32_t pid, uint32_t caller, uint32_t, uint32_t proxy,
                   std::string& error) override {
    error = windows_port::why_not_joinable(pid, caller);
    if (!error.empty())
      return false;
    auto id = identify_process(pid);
    targets->add_run_root(pid, id ? id->created : 0,
                          static_cast<uint8_t>(proxy));
    if (id)
      targets->note_program(id->path);
    windivert::reset_tcp_connections(pid, skip); // any it made before
    return true;
  }

  std::string description() const override {
    return "WinDivert 2.x, NETWORK and SOCKET layers at priority "
           + std::to_string(priority);
  }

  sorting_counters sorting() const override {
    sorting_counters c;
    if (!divert)
      return c;
    auto s = divert->stats();
    c.passed = s.passed;
    c.held = s.held;
    c.unowned_passed = s.unattributed;
    c.unowned_dropped
        = s.unowned_held_back + s.orphaned + s.fenced + s.hold_overflow;
    return c;
  }

  std::string summary() const override {
    if (!divert)
      return {};
    auto c = divert->counters();
    auto s = divert->stats();
    auto n = [](uint64_t v) {
      return std::to_string(v);
    };
    return "the capture at priority " + n(static_cast<uint64_t>(priority))
           + " took " + n(c.received) + " packets for the engine and passed "
           + n(s.passed) + " of other programs; " + n(s.held)
           + " waited for their owner (" + n(s.unowned_held_back)
           + " dropped at their port's first try with none found, "
           + n(s.unattributed) + " passed at a later one); dropped: "
           + n(s.orphaned) + " segments of closed sockets nobody owns, "
           + n(s.fenced) + " unowned while fenced, " + n(s.hold_overflow)
           + " with no room to wait; " + n(s.former_targets)
           + " of exited targets' sockets taken; " + n(s.lan_broadcasts)
           + " of targets' LAN broadcasts passed; " + n(s.send_failed)
           + " could not be sent";
  }
};

} // namespace

std::string capture_repair_hint() {
  return "Reinstall Drover (it brings WinDivert back); if it keeps "
         "happening, allow WinDivert64.sys in your antivirus";
}

guard_result open_guard(const guard_options& opts) {
  guard_result r;
  if (auto problem = capture_privilege_problem(); !problem.empty()) {
    r.failure = capture_failure::not_permitted;
    r.error = problem;
    return r;
  }
  auto g = std::make_shared<windows_guard>(opts.wfp_library);
  g->targets->set_rules(opts.targets.rules, opts.targets.fallback,
                        opts.targets.proxy_names);
  r.guard = std::move(g);
  return r;
}

leftovers_removed remove_leftovers(void* wfp_library) {
  leftovers_removed r;
  if (auto problem = capture_privilege_problem(); !problem.empty()) {
    r.error = problem;
    return r;
  }
  windows_port::crash_block block{wfp_library};
  if (auto problem = block.hold(); !problem.empty()) {
    r.error = problem;
    return r;
  }
  // A permit lives only while its engine's process does.
  if ((r.engine_runs = block.permit_in_place()))
    return r;
  size_t removed = 0;
  r.error = block.release(&removed);
  if (removed > 0)
    r.removed.push_back("the Windows Filtering Platform blocks ("
                        + std::to_string(removed) + " filters)");
  return r;
}

capture_result open_capture(const capture_options& opts) {
  capture_result r;
  if (auto problem = capture_privilege_problem(); !problem.empty()) {
    r.failure = capture_failure::not_permitted;
    r.error = problem;
    return r;
  }
  // Loaded once: the DLL stays for the process's life (a parked handle may
  // still need it).
  static std::shared_ptr<windivert::dll> loaded;
  static std::mutex loading;
  std::shared_ptr<windivert::dll> d;
  {
    std::lock_guard<std::mutex> guard{loading};
    if (!loaded)
      loaded
          = windivert::dll::load(current_executable().parent_path(), r.error);
    d = loaded;
  }
  if (!d) {
    r.failure = capture_failure::unavailable;
    return r;
  }
  auto s = std::make_unique<windows_capture>();
  s->dll = d;
  auto guard = std::dynamic_pointer_cast<windows_guard>(opts.guard);
  if (!guard) {
    r.failure = capture_failure::unavailable;
    r.error = "internal error: a capture session without its guard";
    return r;
  }
  s->targets = guard->targets;
  s->skip = opts.skip;
  s->priority = static_cast<int16_t>(next_priority.fetch_sub(1));
  windivert::port_options po;
  net::capture::windivert_params wp;
  wp.skip = opts.skip;
  wp.broadcasts = guard->broadcasts->current(); // kept current by the guard
  wp.listener = opts.listener;
  po.network_filter = net::capture::windivert_network_filter(wp);
  po.socket_filter = net::capture::windivert_socket_filter();
  po.priority = s->priority;
  po.listener = opts.listener;
  po.hold_time = opts.owner_wait;
  po.broadcasts = guard->broadcasts;
  po.on_lost
      = [held = std::weak_ptr<windows_port::crash_keeper>{guard->crash}] {
          if (auto crash = held.lock())
            crash->capture_lost();
        };
  if (auto over = net::capture::check_windivert_filter(po.network_filter);
      !over.empty()) {
    r.failure = capture_failure::unavailable;
    r.error = "too many addresses to skip for WinDivert's filter (" + over
              + "): shorten [skip] extra_skip_cidrs";
    return r;
  }
  s->divert = divert_port::open(d, po, s->targets, r.failure, r.error);
  if (!s->divert)
    return r;
  // The new handle diverts now; the previous session's may go.
  fence::instance().hand_over_to(*s->divert);
  guard->crash->capture_holds();
  r.session = std::move(s);
  return r;
}

} // namespace drover::platform
