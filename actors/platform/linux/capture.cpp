#include "actors/platform/capture.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "actors/platform/linux/attached_programs.hpp"
#include "actors/platform/linux/kernel_rules.hpp"
#include "actors/platform/linux/local_addresses.hpp"
#include "actors/platform/linux/nfqueue.hpp"
#include "actors/platform/linux/socket_adoption.hpp"
#include "actors/platform/linux/system.hpp"
#include "actors/platform/linux/target_marker.hpp"
#include "actors/platform/process.hpp"
#include "actors/platform/process_rules.hpp"

namespace drover::platform {

namespace {

// Per network namespace, so these never collide between instances in
// different namespaces (queues and chains are per namespace already).
constexpr uint16_t queue_number = 7042;
using linux_port::injected_mark;
constexpr const char* chain = "DROVER";
// The targets' UDP on its way to TPROXY, and the routing table that sends
// it to lo (its number is also the policy rule's priority: before main).
// The low 3 bits are the proxy's index (net::capture::proxy_index_bits).
constexpr uint32_t udp_mark = 0x44520008;
constexpr uint32_t route_table = 17490;

std::string hex(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", v);
  return text;
}

// The rules as procscan's view of a process compares them: each path and
// folder as the kernel knows it, symlinks resolved (what /proc/PID/exe
// shows).
std::vector<config::app_rule> resolved(std::vector<config::app_rule> rules) {
  for (auto& r : rules)
    for (auto* list : {&r.paths, &r.folders})
      for (auto& path : *list) {
        std::error_code ec;
        auto real = std::filesystem::weakly_canonical(path, ec);
        if (!ec)
          path = real.string();
      }
  return rules;
}

bool has_files(const std::vector<config::app_rule>& rules) {
  return std::any_of(rules.begin(), rules.end(), [](const config::app_rule& r) {
    return !r.paths.empty() || !r.folders.empty();
  });
}

class linux_guard final : public capture_guard {
public:
  mutable std::mutex mutex; // the watchdog's thread and the engine's
  std::unique_ptr<linux_port::target_cgroup> group;
  std::unique_ptr<linux_port::target_marker> marker;
  linux_port::rule_set rules{chain};
  std::vector<config::app_rule> config_rules; // as the config has them
  config::not_proxying fallback = config::not_proxying::block;
  std::vector<std::string> proxy_names;    // which proxy a rule's `proxy` is
  std::vector<config::app_rule> app_rules; // paths resolved
  linux_port::kernel_rules in_kernel;
  std::string users;
  net::capture::exclusions skip;
  std::vector<net::ipv4_address> broadcasts; // the subnets', in the fence
  linux_port::address_changes addresses;     // heard from before the first read
  std::atomic<uint64_t> reset_count{0};      // connections aborted by adopt()

  bool released = false;

  ~linux_guard() override { release(); }

  std::string release() override {
    std::lock_guard<std::mutex> lock{mutex};
    if (released)
      return {};
    released = true;
    // Rules first (nothing more is queued; the fence still holds), then the
    // kernel programs (the targets go direct again: this is Stop), then
    // `drover run`'s group.
    auto problem = rules.remove();
    marker.reset();
    group.reset();
    return problem;
  }

  bool set_targets(const target_selection& t, std::string& error) override {
    std::lock_guard<std::mutex> lock{mutex};
    return released || load_rules(t.rules, t.fallback, t.proxy_names, error);
  }

  void set_proxying(uint32_t proxy, bool tcp, bool udp) override {
    std::lock_guard<std::mutex> lock{mutex};
    std::string error; // the flag stays as it was: rules mark, the relay
    if (!released)     // decides (fail closed)
      marker->set_proxying(proxy, tcp, udp, error);
  }

  // Holding the lock.
  bool load_rules(const std::vector<config::app_rule>& wanted,
                  config::not_proxying when_down,
                  const std::vector<std::string>& names, std::string& error) {
    std::vector<std::string> missing; // looked up again by repair()
    auto compiled
        = linux_port::compile_rules(wanted, when_down, names, missing);
    if (!marker->set_rules(compiled, error))
      return false;
    config_rules = wanted;
    fallback = when_down;
    proxy_names = names;
    app_rules = resolved(wanted);
    in_kernel = std::move(compiled);
    return true;
  }

  // A `paths` or `folders` entry that did not exist, or was replaced (an
  // update writes a new file): the kernel gets its identity now.
  void refresh_files(std::string& error) {
    if (!has_files(config_rules))
      return;
    std::vector<std::string> missing;
    auto compiled = linux_port::compile_rules(config_rules, fallback,
                                              proxy_names, missing);
    if (compiled == in_kernel)
      return;
    if (marker->set_rules(compiled, error)) {
      in_kernel = std::move(compiled);
      app_rules = resolved(config_rules);
    }
  }

  std::string repair(std::string& error) override {
    std::lock_guard<std::mutex> lock{mutex};
    if (released)
      return {};
    std::string what;
    if (!marker->attached()) {
      if (!marker->reattach(error))
        return {};
      what = "the kernel programs that mark and fence the targets had been "
             "detached";
    }
    refresh_files(error);
    follow_addresses(error);
    if (!rules.intact()) {
      if (!rules.reapply(error))
        return what;
      what += std::string{what.empty() ? "" : "; "}
              + "the capture rules had been removed from the firewall (a "
                "firewall reload?)";
    }
    return what;
  }

  guard_counters counters() const override {
    std::lock_guard<std::mutex> lock{mutex};
    if (released)
      return {};
    auto c = marker->counters();
    return {c.sockets_marked, c.packets_fenced, reset_count.load(),
            c.ipv6_refused};
  }

  std::string description() const override {
    std::lock_guard<std::mutex> lock{mutex};
    if (released)
      return "released";
    return "eBPF socket mark " + hex(marker->marks().target) + " (blocked "
           + hex(marker->marks().block) + ") for " + users + ", cgroup "
           + group->rule_path()
           + (marker->replaced() > 0
                  ? "; replaced what a killed engine had left in place"
                  : "");
  }

  // A session's rules and the fence's exceptions: the same destinations.
  bool apply(const net::capture::linux_params& p, std::string& error) {
    std::lock_guard<std::mutex> lock{mutex};
    skip = p.skip;
    return set_fence_skip(error) && rules.apply(p, error);
  }

  // The fence's exceptions: `skip`, and the subnets' broadcast addresses
  // as the interfaces have them now (which the rules leave alone by the
  // kernel's own list). Holding the lock.
  bool set_fence_skip(std::string& error) {
    addresses.changed(); // what it heard is in the read below
    auto now
        = net::capture::subnet_broadcasts(linux_port::interface_addresses());
    if (!marker->set_skip(skip, now, error))
      return false;
    broadcasts = std::move(now);
    return true;
  }

  // An address came or went (DHCP, another network): the fence follows
  // within a second. Until then a broadcast to a new subnet is dropped,
  // and an old subnet's broadcast address, if now a host's, is still
  // captured by the rules (which ask the kernel). Holding the lock.
  void follow_addresses(std::string& error) {
    if (!addresses.changed())
      return;
    auto now
        = net::capture::subnet_broadcasts(linux_port::interface_addresses());
    if (now != broadcasts && marker->set_skip(skip, now, error))
      broadcasts = std::move(now);
  }

  // Takes over the sockets `pid` made before it was a target (or before a
  // `block` rule matched it): marked, connected TCP reset.
  // `started`: its start time as the scan saw it (0: not checked), so a
  // program that took a reused ID since is left alone.
  // `proxy`: the index of its rule's proxy (the target mark's low bits).
  take_up adopt(pid_t pid, uint64_t started, config::rule_action action,
                uint32_t proxy, std::string& error) {
    uint32_t mark = 0;
    net::capture::exclusions now;
    {
      std::lock_guard<std::mutex> lock{mutex};
      if (released || action == config::rule_action::direct)
        return take_up::left_alone; // stopping, or not the rules' any more
      mark = action == config::rule_action::block
                 ? marker->marks().block
                 : marker->marks().target
                       + (proxy & net::capture::proxy_index_bits);
      now = skip;
    }
    if (action == config::rule_action::block)
      now = {}; // a blocked program keeps nothing but loopback
    auto taken = linux_port::adopt_sockets(pid, started, mark, now, error);
    if (taken.reset > 0)
      reset_count += taken.reset;
    if (taken.gone)
      return take_up::left_alone;
    return error.empty() || taken.marked > 0 ? take_up::taken : take_up::failed;
  }

  // What the rules do with `p` (one of `all`); only the served users'
  // processes are looked at.
  config::rule_action action_of(const process_entry& p,
                                const std::vector<process_entry>& all) const {
    if (!p.served)
      return config::rule_action::direct;
    std::lock_guard<std::mutex> lock{mutex};
    return process_rules{app_rules, all}.action_of(p);
  }

  // The index of the proxy whose rule `p` falls under (0 without one).
  uint32_t proxy_of(const process_entry& p,
                    const std::vector<process_entry>& all) const {
    std::lock_guard<std::mutex> lock{mutex};
    auto rule = process_rules{app_rules, all}.rule_of(p);
    if (rule < 0 || static_cast<size_t>(rule) >= app_rules.size())
      return 0;
    return static_cast<uint32_t>(
        config::proxy_index(proxy_names, app_rules[static_cast<size_t>(rule)]));
  }

  // `drover run --proxy`'s group for `proxy`, known to the kernel
  // program before anyone enters it.
  bool make_run_group(uint32_t proxy, std::string& error) {
    std::lock_guard<std::mutex> lock{mutex};
    if (released) {
      error = "Drover is stopping";
      return false;
    }
    if (proxy == 0)
      return true;
    if (proxy > net::capture::proxy_index_bits) {
      error = "Drover has at most 8 proxies";
      return false;
    }
    auto id = group->make_proxy_group(proxy, error);
    return id != 0 && marker->set_run_group(id, proxy, error);
  }

  // The same for a running process, by its ID (one look at /proc: a new
  // target is rare). A `drover run` program's is the one it was run with.
  uint32_t proxy_of(pid_t pid) const {
    {
      std::lock_guard<std::mutex> lock{mutex};
      if (released)
        return 0;
      if (auto run = group->proxy_of(pid); run >= 0)
        return static_cast<uint32_t>(run);
      if (proxy_names.size() < 2)
        return 0;
    }
    auto all = list_processes().value_or(std::vector<process_entry>{});
    for (auto& p : all)
      if (p.pid == static_cast<uint32_t>(pid))
        return proxy_of(p, all);
    return 0;
  }
};

class linux_capture final : public capture_session {
public:
  std::shared_ptr<linux_guard> guard;
  std::unique_ptr<packet_injector> raw;
  std::unique_ptr<packet_port> queue;
  bool redirecting = false;
  bool tproxying = false;
  std::string fallback_reason; // why the kernel does not redirect TCP
  std::string udp_fallback;    // ... or hand over UDP

  ~linux_capture() override {
    // The rules stay with the guard: what they queue while no session
    // reads the queue is dropped.
    queue.reset();
    raw.reset();
  }

  packet_port& port() override { return *queue; }
  packet_injector& injector() override { return *raw; }

  take_up add_target(uint32_t pid, uint64_t created,
                     std::string& error) override {
    auto id = static_cast<pid_t>(pid);
    return guard->adopt(id, created, config::rule_action::proxy,
                        guard->proxy_of(id), error);
  }

  take_up block_target(uint32_t pid, uint64_t created,
                       std::string& error) override {
    return guard->adopt(static_cast<pid_t>(pid), created,
                        config::rule_action::block, 0, error);
  }

  bool is_target(uint32_t pid) const override {
    if (guard->group->contains(static_cast<pid_t>(pid)))
      return true;
    auto all = list_processes().value_or(std::vector<process_entry>{});
    for (auto& p : all)
      if (p.pid == pid)
        return guard->action_of(p, all) == config::rule_action::proxy;
    return false;
  }

  void forget_target(uint32_t) override {}

  long spawn_target(const std::vector<std::string>& argv, uint32_t proxy,
                    std::string& error) override {
    if (!guard->make_run_group(proxy, error))
      return -1;
    return linux_port::spawn_in_cgroup(argv, *guard->group, proxy, error);
  }

  // Into the cgroup `drover run` uses (its proxy's): the kernel program
  // marks every socket its members (and their children) make from then
  // on. Checked first, as the request came from a less privileged side.
  bool join_target(uint32_t pid, uint32_t caller, uint32_t user, uint32_t proxy,
                   std::string& error) override {
    error = linux_port::why_not_joinable(pid, caller, user);
    if (!error.empty() || !guard->make_run_group(proxy, error)
        || !guard->group->add(static_cast<pid_t>(pid), proxy, error))
      return false;
    std::string ignored; // sockets it had before: taken over, if any
    guard->adopt(static_cast<pid_t>(pid), 0, config::rule_action::proxy, proxy,
                 ignored);
    return true;
  }

  std::string description() const override {
    std::string queued = redirecting ? (tproxying ? "" : "UDP") : "TCP";
    if (!redirecting && !tproxying)
      queued += " and UDP";
    return std::string{redirecting ? "TCP: nat REDIRECT to the relay; " : ""}
           + (tproxying ? "UDP: TPROXY to the relay (mark " + hex(udp_mark)
                              + ", table " + std::to_string(route_table) + "); "
                        : "")
           + (queued.empty() ? std::string{"ICMP answers: "} : queued + ": ")
           + "NFQUEUE " + std::to_string(queue_number) + ", iptables chain "
           + chain + "; " + guard->description()
           + (fallback_reason.empty() ? ""
                                      : "; the kernel cannot redirect TCP ("
                                            + fallback_reason + ")")
           + (udp_fallback.empty()
                  ? ""
                  : "; the kernel cannot hand over UDP (" + udp_fallback + ")");
  }

  bool redirects_tcp() const override { return redirecting; }
  bool redirects_udp() const override { return tproxying; }
};

} // namespace

std::string capture_repair_hint() {
  return "Drover needs iptables, the kernel's packet queue and cgroup BPF: "
         "install iptables (apt install iptables) and check that `modprobe "
         "nfnetlink_queue xt_mark` works";
}

guard_result open_guard(const guard_options& opts) {
  guard_result r;
  if (auto missing = linux_port::missing_privileges(); !missing.empty()) {
    r.failure = capture_failure::not_permitted;
    r.error = missing;
    return r;
  }
  auto g = std::make_shared<linux_guard>();
  // Adopted as it is when a killed engine left it: its members stay.
  g->group = linux_port::target_cgroup::open("drover-" + linux_port::netns_id(),
                                             r.error);
  if (!g->group) {
    r.failure = capture_failure::unavailable;
    return r;
  }
  auto users = linux_port::served_users(g->users);
  g->skip = opts.skip;
  linux_port::marker_settings ms;
  ms.cgroup_root = g->group->mount_point().string();
  ms.engine_cgroup_id = g->group->id();
  ms.engine_cgroup_level = g->group->level();
  g->marker = linux_port::target_marker::attach(ms, r.error);
  auto run_groups_known = [&] {
    for (auto [id, proxy] : g->group->proxy_groups()) // a killed engine's
      if (!g->marker->set_run_group(id, proxy, r.error))
        return false;
    return true;
  };
  if (!g->marker || !run_groups_known() || !g->marker->set_users(users, r.error)
      || !g->load_rules(opts.targets.rules, opts.targets.fallback,
                        opts.targets.proxy_names, r.error)
      || !g->set_fence_skip(r.error)) {
    r.failure = capture_failure::unavailable;
    return r;
  }
  // New target sockets are marked from now on; the ones the targets made
  // before are taken over here, before anything is announced.
  auto all = list_processes().value_or(std::vector<process_entry>{});
  for (auto& p : all) {
    std::string error;
    if (p.pid != current_process_id())
      g->adopt(static_cast<pid_t>(p.pid), p.created, g->action_of(p, all),
               g->proxy_of(p, all), error);
  }
  r.guard = std::move(g);
  return r;
}

leftovers_removed remove_leftovers(void*) {
  leftovers_removed r;
  if (auto missing = linux_port::missing_privileges(); !missing.empty()) {
    r.error = missing;
    return r;
  }
  auto group = linux_port::target_cgroup::open(
      "drover-" + linux_port::netns_id(), r.error);
  if (!group)
    return r;
  // An engine's programs name its process: a running one keeps all.
  auto root = group->mount_point().string();
  if ((r.engine_runs = linux_port::engine_attached_here(root)))
    return r;
  // Stop's order: the rules, then the kernel programs, then the group.
  linux_port::rule_set rules{chain};
  if (rules.left_in_place())
    r.removed.push_back(std::string{"the firewall rules (chain "} + chain
                        + ")");
  r.error = rules.remove(); // said; the rest is removed all the same
  net::capture::linux_params route;
  route.udp_mark = udp_mark;
  route.route_table = route_table;
  if (linux_port::rule_set::remove_route_left(route))
    r.removed.push_back("the routing rule for UDP (table "
                        + std::to_string(route_table) + ")");
  auto programs = linux_port::detach_programs_left(root);
  if (programs.own > 0)
    r.removed.push_back(std::to_string(programs.own)
                        + " kernel programs that mark and fence the chosen "
                          "programs");
  if (programs.orphaned > 0)
    r.tidied.push_back(std::to_string(programs.orphaned)
                       + " kernel programs of Drover engines whose network "
                         "namespace no longer exists");
  group->release();
  return r;
}

capture_result open_capture(const capture_options& opts) {
  capture_result r;
  auto guard = std::dynamic_pointer_cast<linux_guard>(opts.guard);
  if (!guard) {
    r.failure = capture_failure::unavailable;
    r.error = "internal error: a capture session without its guard";
    return r;
  }
  auto s = std::make_unique<linux_capture>();
  s->guard = guard;
  s->raw = linux_port::open_raw_injector(injected_mark, r.error);
  if (!s->raw) {
    r.failure = capture_failure::not_permitted;
    return r;
  }
  auto marks = guard->marker->marks();
  s->queue = linux_port::open_nfqueue(
      queue_number, {marks.target, marks.pass, marks.block}, r.error);
  if (!s->queue) {
    r.failure = capture_failure::unavailable;
    return r;
  }
  net::capture::linux_params p;
  p.chain = chain;
  p.target_mark = guard->marker->marks().target;
  p.block_mark = guard->marker->marks().block;
  p.queue_number = queue_number;
  p.listener = opts.listener;
  p.injected_mark = injected_mark;
  p.skip = opts.skip;
  p.redirect_port = opts.kernel_redirect ? opts.listener.port : 0;
  p.tproxy_port = p.redirect_port != 0 ? opts.udp_intake_port : 0;
  p.more_proxies = opts.more_proxies;
  // Also when not used: a killed engine's policy route is then removed.
  p.udp_mark = udp_mark;
  p.route_table = route_table;
  if (p.tproxy_port != 0 && !guard->apply(p, r.error)) {
    // No TPROXY or policy routing here (xt_TPROXY, iproute2 missing): the
    // engine relays the queued datagrams itself.
    s->udp_fallback = r.error;
    r.error.clear();
    p.tproxy_port = 0;
  }
  if (p.tproxy_port == 0 && p.redirect_port != 0 && !guard->apply(p, r.error)) {
    // No NAT in this kernel (iptable_nat, nf_nat or xt_REDIRECT missing):
    // the engine rewrites TCP itself, as before the relay existed.
    s->fallback_reason = r.error;
    r.error.clear();
    p.redirect_port = 0;
  }
  if (p.redirect_port == 0 && !guard->apply(p, r.error)) {
    r.failure = capture_failure::unavailable;
    return r;
  }
  s->redirecting = p.redirect_port != 0;
  s->tproxying = p.tproxy_port != 0;
  r.session = std::move(s);
  return r;
}

} // namespace drover::platform
