// The capture's firewall rules and policy route (rule_set in system.hpp):
// applied in one iptables-restore transaction per table, in the order that
// never leaves a moment with neither the old nor the new path.

#include <cstdio>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/platform/linux/system.hpp"
#include "net/capture_rules.hpp"

namespace drover::platform::linux_port {

namespace {

std::string saved_table(const char* tool, const char* table = "raw") {
  auto saved = run_program({std::string{tool} + "-save", "-t", table});
  return saved.status == 0 ? saved.output : std::string{};
}

bool restore(const char* tool, const std::string& input, std::string& error) {
  if (input.empty())
    return true;
  auto r = run_program({std::string{tool} + "-restore", "-w", "5", "--noflush"},
                       input);
  if (r.status == 0)
    return true;
  error = "installing the capture rules failed (" + std::string{tool}
          + "-restore): " + (r.output.empty() ? "not found" : r.output);
  return false;
}

std::string hex_of(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%x", v);
  return text;
}

std::vector<std::string> policy_rule(const char* verb,
                                     const net::capture::linux_params& p) {
  auto table = std::to_string(p.route_table);
  return {"ip",     "-4",  "rule",     verb, "fwmark", hex_of(p.udp_mark),
          "lookup", table, "priority", table};
}

// The targets' UDP, marked by mangle, is routed by the local table: to lo,
// where TPROXY takes it. The route before the rule, each put in once.
bool install_policy_route(const net::capture::linux_params& p,
                          std::string& error) {
  auto table = std::to_string(p.route_table);
  auto route = run_program({"ip", "-4", "route", "replace", "local",
                            "0.0.0.0/0", "dev", "lo", "table", table});
  if (route.status != 0) {
    error = "cannot add the policy route for UDP (ip route): "
            + (route.output.empty() ? "ip not found" : route.output);
    return false;
  }
  auto shown = run_program({"ip", "-4", "rule", "show"});
  auto n = net::capture::policy_rules_present(shown.output, p.udp_mark,
                                              p.route_table);
  for (; n > 1; --n)
    run_program(policy_rule("del", p));
  if (n == 1)
    return true;
  auto added = run_program(policy_rule("add", p));
  if (added.status != 0) {
    error = "cannot add the policy rule for UDP (ip rule): " + added.output;
    return false;
  }
  return true;
}

void remove_policy_route(const net::capture::linux_params& p) {
  // Never with zeros: "ip rule del fwmark 0 priority 0" would match the
  // rule of the local table.
  if (p.udp_mark == 0 || p.route_table == 0)
    return;
  // Bounded: one rule a call; a killed engine's leftovers included.
  for (int i = 0; i < 8 && run_program(policy_rule("del", p)).status == 0; ++i)
    ;
  run_program(
      {"ip", "-4", "route", "flush", "table", std::to_string(p.route_table)});
}

// Asked of the kernel itself, without running `ip` each second: a UDP
// socket with the mark, "connected" to a documentation address. With the
// rule and the route in place its route is local, and a local route's
// source is the destination itself; without either, it takes the main
// table's way out (another source, or no route at all).
bool policy_route_intact(const net::capture::linux_params& p) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return true; // cannot tell: not taken for missing
  uint32_t mark = p.udp_mark;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  to.sin_addr.s_addr = htonl(0xc0000201); // 192.0.2.1 (TEST-NET-1)
  sockaddr_in from{};
  socklen_t len = sizeof from;
  bool local
      = ::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0
        && ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0
        && ::getsockname(fd, reinterpret_cast<sockaddr*>(&from), &len) == 0
        && from.sin_addr.s_addr == to.sin_addr.s_addr;
  ::close(fd);
  return local;
}

void remove_mangle(const std::string& chain) {
  std::string error;
  for (auto& c : {chain, net::capture::mangle_in_chain(chain)})
    restore("iptables",
            net::capture::iptables_remove(c, saved_table("iptables", "mangle"),
                                          "mangle"),
            error);
}

} // namespace

bool rule_set::apply(const net::capture::linux_params& p, std::string& error) {
  // The redirect first: the raw table goes on queueing TCP (untracked, so
  // unseen by nat) until its own new rules let TCP through to it. Without a
  // redirect, a redirect left by an earlier session goes once raw queues
  // TCP again. IPv4 before IPv6: the targets' IPv6 is fenced in by the
  // kernel program meanwhile, and queued (to be dropped) once its rules
  // are in.
  if (p.redirect_port != 0
      && !restore(
          "iptables",
          net::capture::iptables_nat_install(p, saved_table("iptables", "nat")),
          error))
    return false;
  // The same for UDP: the policy route, then mangle, then raw stops
  // queueing it.
  if (p.tproxy_port != 0
      && (!install_policy_route(p, error)
          || !restore("iptables",
                      net::capture::iptables_mangle_install(
                          p, saved_table("iptables", "mangle")),
                      error)))
    return false;
  if (!restore("iptables",
               net::capture::iptables_install(p, saved_table("iptables")),
               error)
      || !restore("ip6tables",
                  net::capture::ip6tables_install(p, saved_table("ip6tables")),
                  error))
    return false;
  if (p.redirect_port == 0)
    restore("iptables",
            net::capture::iptables_remove(
                chain_, saved_table("iptables", "nat"), "nat"),
            error);
  if (p.tproxy_port == 0) {
    remove_mangle(chain_);
    remove_policy_route(p);
  }
  applied_ = p;
  return true;
}

bool rule_set::intact() const {
  if (!applied_)
    return true;
  // One iptables-save for every IPv4 table (each run reads the whole
  // ruleset; the watchdog asks every second, so this is most of an idle
  // engine's CPU). The install text on an empty table has every rule line:
  // the count to compare with.
  auto saved = run_program({"iptables-save"});
  if (saved.status != 0)
    return false;
  auto table = [&](const char* name) {
    return net::capture::saved_table_of(saved.output, name);
  };
  const auto& p = *applied_;
  return net::capture::rules_intact(
             table("raw"), net::capture::iptables_install(p, {}), chain_)
         && net::capture::rules_intact(saved_table("ip6tables"),
                                       net::capture::ip6tables_install(p, {}),
                                       chain_)
         && (p.redirect_port == 0
             || net::capture::rules_intact(
                 table("nat"), net::capture::iptables_nat_install(p, {}),
                 chain_))
         && (p.tproxy_port == 0 || mangle_intact(p, table("mangle")));
}

bool rule_set::mangle_intact(const net::capture::linux_params& p,
                             std::string_view saved) const {
  auto install = net::capture::iptables_mangle_install(p, {});
  return net::capture::rules_intact(saved, install, chain_)
         && net::capture::rules_intact(saved, install,
                                       net::capture::mangle_in_chain(chain_),
                                       "PREROUTING")
         && policy_route_intact(p);
}

bool rule_set::reapply(std::string& error) {
  return !applied_ || apply(*applied_, error);
}

void rule_set::remove() {
  std::string error;
  for (const char* tool : {"iptables", "ip6tables"})
    restore(tool, net::capture::iptables_remove(chain_, saved_table(tool)),
            error);
  restore("iptables",
          net::capture::iptables_remove(chain_, saved_table("iptables", "nat"),
                                        "nat"),
          error);
  remove_mangle(chain_);
  if (applied_)
    remove_policy_route(*applied_);
  applied_.reset();
}

} // namespace drover::platform::linux_port
