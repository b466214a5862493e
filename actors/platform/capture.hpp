#pragma once

// Capture in two parts with two lifetimes:
// - the guard keeps the targets captured from Start to Stop, whatever the
//   engine's parts do meanwhile (a restart onto a new proxy, a reopened
//   packet handle, sleep, Retry, a crash, even a killed engine on Linux);
// - the session is one run of the engine's parts: the packet queue and the
//   injector, opened at each (re)start and closed when the parts stop.
// Linux: the guard is the kernel programs that mark and fence the targets'
// sockets, `drover run`'s cgroup and the rule set (replaced in one
// transaction by each session, removed only with the guard); a session
// is NFQUEUE and the raw injector. Packets the rules queue while no
// session reads the queue are dropped: nothing leaves direct.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/platform/packet_port.hpp"
#include "config/settings.hpp"
#include "net/capture_rules.hpp"
#include "net/nat.hpp"

namespace drover::platform {

/// Which programs are targets, and which are blocked: the config's rules,
/// in order (the first that matches a program decides). Names and paths
/// compare exactly on Linux (a name's ".exe" is optional there),
/// case-insensitively on Windows.
struct target_selection {
  std::vector<config::app_rule> rules;
  /// A `proxy` rule's programs while the proxy cannot be used, when the
  /// rule does not say (`[targets] when_not_proxying`).
  config::not_proxying fallback = config::not_proxying::block;
  /// The proxies' names in order: a `proxy` rule's `proxy` chooses one
  /// (not found or empty: the first).
  std::vector<std::string> proxy_names;
};

struct guard_counters {
  uint64_t sockets_marked = 0;    // Linux: target sockets marked at creation
  uint64_t packets_fenced = 0;    // a target's packets stopped by the fence
  uint64_t connections_reset = 0; // connections a target had before it was
                                  // one, reset so it reconnects proxied
  uint64_t ipv6_refused = 0; // Linux: IPv6 connects/datagrams refused at once
};

/// Keeps the targets captured from Start to Stop (see above). Thread-safe:
/// the watchdog calls repair() from its own thread.
class capture_guard {
public:
  virtual ~capture_guard() = default;

  /// New target names (the config changed): in force at once.
  virtual bool set_targets(const target_selection& t, std::string& error) = 0;

  /// Whether the proxy can be used now, for TCP and for UDP: while it
  /// cannot, new sockets of rules whose fallback is direct are left alone
  /// (Linux: the kernel program; Windows decides per packet instead).
  virtual void set_proxying(uint32_t proxy, bool tcp, bool udp) {
    (void)proxy;
    (void)tcp;
    (void)udp;
  }

  /// Puts back what someone took away (the rules flushed by a firewall
  /// reload, the kernel programs detached). Returns what was put back,
  /// for the Timeline, or empty when everything was in place; `error` when
  /// it could not be put back.
  virtual std::string repair(std::string& error) = 0;

  virtual guard_counters counters() const = 0;

  /// Stop: takes everything away now (the targets go direct again). Once
  /// released, repair() puts nothing back. The destructor releases too.
  /// Empty, or what the OS refused to take away (a sentence): then the
  /// targets may stay blocked.
  virtual std::string release() = 0;

  /// What it holds, for the log.
  virtual std::string description() const = 0;
};

enum class capture_failure : uint8_t {
  none,
  not_permitted, // missing privileges
  unavailable,   // the capture machinery could not be set up
};

struct guard_result {
  std::shared_ptr<capture_guard> guard;
  capture_failure failure = capture_failure::none;
  std::string error; // a sentence for the user
};

struct guard_options {
  target_selection targets;
  net::capture::exclusions skip; // skip.proxy: 0 until the proxy is known
  /// Windows: the Filtering Platform's fwpuclnt.dll, already loaded (the
  /// tests' double); null: System32's (crash_block.hpp).
  void* wfp_library = nullptr;
};

/// Sets up the guard: from now on the targets' new sockets are captured or
/// blocked, and the sockets they already had are taken over (marked for
/// capture, connected TCP reset so the application reconnects through the
/// proxy). Leftovers of a crashed engine are adopted or replaced first,
/// never removed before the new guard holds.
guard_result open_guard(const guard_options& opts);

/// What `drover unblock` found and removed.
struct leftovers_removed {
  std::vector<std::string> removed; // a line each, for the user
  /// Leftovers that held nothing back any more (Linux: the programs of
  /// engines whose network namespace is gone), removed while here.
  std::vector<std::string> tidied;
  bool engine_runs = false; // then nothing was touched
  std::string error;        // a sentence: what could not be removed
};

/// What an engine killed while capturing left in place to keep the
/// targets offline (Linux: this network namespace's firewall chains, the
/// UDP policy route, the kernel programs and `drover run`'s group;
/// Windows: the Filtering Platform blocks), removed in Stop's order, so
/// that the targets go direct: after a crash, and by the uninstallers. The
/// caller holds the control endpoint (no engine can start meanwhile); a
/// running engine's capture is never touched.
leftovers_removed remove_leftovers(void* wfp_library = nullptr);

struct capture_options {
  std::shared_ptr<capture_guard> guard; // from open_guard
  net::listener_address listener;
  net::capture::exclusions skip; // skip.proxy: the resolved proxy address
  /// Windows: how long a flow's first packet waits for the socket event
  /// that names its process, before the OS's socket tables are asked.
  std::chrono::milliseconds owner_wait{150};
  /// Linux: the kernel redirects the targets' TCP connections to the
  /// listener (nat REDIRECT) when it can; false, or a kernel without NAT,
  /// queues TCP to the engine like UDP.
  bool kernel_redirect = true;
  /// Linux: not 0, the loopback port of the relay's transparent UDP socket:
  /// the kernel hands it the targets' UDP (TPROXY) when it can, with the
  /// TCP redirect only. 0, or a kernel without TPROXY: UDP is queued.
  uint16_t udp_intake_port = 0;
  /// Linux: the relays of proxies 1, 2, ... (TCP listener port, UDP intake
  /// port); each proxy's targets go to their own (see linux_params).
  std::vector<std::pair<uint16_t, uint16_t>> more_proxies;
};

/// What a port that sorts packets by their owner decided in this session
/// (Windows: WinDivert diverts every program's packets; on Linux the
/// kernel sorts them and these stay 0).
struct sorting_counters {
  uint64_t passed = 0;          // other programs' packets let out unchanged
  uint64_t held = 0;            // waited for their owner to be known
  uint64_t unowned_passed = 0;  // let out with no owner found, even by the
                                // OS's tables
  uint64_t unowned_dropped = 0; // dropped with no owner found (they may
                                // have been a target's)
};

/// What taking a running process up did (add_target, block_target).
enum class take_up {
  taken,      // a target (or blocked) from now on
  left_alone, // gone, or another program under its ID since the scan
  failed,     // `error` says why
};

class capture_session {
public:
  virtual ~capture_session() = default;

  virtual packet_port& port() = 0;
  virtual packet_injector& injector() = 0;

  /// Makes a running process a target. Linux: its sockets are already
  /// marked when it matches by name; the ones it had before are taken over
  /// (see open_guard). Windows: its packets are captured from now on.
  /// `created`: the process's creation time as the scan saw it
  /// (process_entry::created; 0 when unknown). A process ID can be reused
  /// between the scan and this call: a process created at another time,
  /// another program under the same ID, is left alone.
  virtual take_up add_target(uint32_t pid, uint64_t created, std::string& error)
      = 0;
  /// A running process a `block` rule matches: its connections are reset
  /// and whatever it sends from now on is refused (Linux: its sockets are
  /// marked so; Windows: its packets are captured and refused). `created`
  /// as for add_target.
  virtual take_up block_target(uint32_t pid, uint64_t created,
                               std::string& error)
      = 0;
  virtual bool is_target(uint32_t pid) const = 0;
  /// The process is gone (procscan no longer sees it): its ID may be
  /// reused by another program, which must not inherit the capture.
  /// Linux: nothing to do (an exited process leaves its cgroup).
  virtual void forget_target(uint32_t pid) = 0;
  /// Starts a program as a target from its first socket on, through
  /// proxy `proxy` (its place in the config). Returns its process ID, or
  /// -1 with `error` set.
  virtual long spawn_target(const std::vector<std::string>& argv,
                            uint32_t proxy, std::string& error)
      = 0;
  /// `drover run` beside the running engine: makes `pid` a target from its
  /// next socket on, with all it starts. Only a process the caller may put
  /// in place: `caller` (who asks, by the kernel's word, never by the
  /// request's) or its child, of the caller's `user`. False with `error`, a
  /// sentence for the caller, when it may not or cannot. Through proxy
  /// `proxy`.
  virtual bool join_target(uint32_t pid, uint32_t caller, uint32_t user,
                           uint32_t proxy, std::string& error)
      = 0;

  /// What was set up, for the log ("NFQUEUE 7042, cgroup drover-...").
  virtual std::string description() const = 0;
  /// What its port decided, for the log when the session ends (empty:
  /// nothing worth saying). Windows decides each packet's owner itself;
  /// these figures tell where packets went when one went wrong.
  virtual std::string summary() const { return {}; }
  /// The same as counters, for `drover status`.
  virtual sorting_counters sorting() const { return {}; }

  /// True when the OS itself sends the targets' TCP connections to the
  /// listener, with their original destination (Linux: nat REDIRECT); the
  /// engine then relays them (actors/kernel_relay.hpp) and no TCP packet is
  /// queued. False: the engine rewrites TCP packets to the listener
  /// (WinDivert, or Linux without NAT).
  virtual bool redirects_tcp() const { return false; }
  /// True when the OS itself hands the targets' UDP datagrams to the
  /// relay's socket (Linux: TPROXY); none of them is then queued.
  virtual bool redirects_udp() const { return false; }
};

struct capture_result {
  /// One owner (the supervisor's session_keeper), which lends it to the
  /// engine's parts.
  std::unique_ptr<capture_session> session;
  capture_failure failure = capture_failure::none;
  std::string error; // a sentence for the user
};

/// What a user can do when capture cannot be set up although the
/// privileges are there (the E3 "driver gone" class): the reinstall hint.
std::string capture_repair_hint();

/// Opens a session under `opts.guard` (Linux: binds the queue, then
/// replaces the rule set for this session's listener and proxy in one
/// transaction).
capture_result open_capture(const capture_options& opts);

} // namespace drover::platform
