// The capture's firewall rules and policy route (rule_set in system.hpp):
// applied in one iptables-restore transaction per table, in the order that
// never leaves a moment with neither the old nor the new path; checked when
// the kernel announces a change (ruleset_changes).

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
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

bool restore(const char* tool, const std::string& input, std::string& error,
             const char* doing = "installing") {
  if (input.empty())
    return true;
  auto r = run_program({std::string{tool} + "-restore", "-w", "5", "--noflush"},
                       input);
  if (r.status == 0)
    return true;
  error = std::string{doing} + " the capture rules failed (" + tool
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
  // Every proxy's UDP mark: the low bits are the proxy's index.
  auto mark
      = hex_of(p.udp_mark) + "/" + hex_of(~net::capture::proxy_index_bits);
  return {"ip", "-4",     "rule", verb,       "fwmark",
          mark, "lookup", table,  "priority", table};
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

bool policy_route_intact(const net::capture::linux_params& p) {
  return marked_route_is_local(p.udp_mark, p.route_table);
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

int netlink_subscribe(int protocol, std::initializer_list<unsigned> groups) {
  int fd
      = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (fd < 0
      || ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    if (fd >= 0)
      ::close(fd);
    return -1;
  }
  for (unsigned g : groups)
    if (::setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g)
        != 0) {
      ::close(fd);
      return -1;
    }
  return fd;
}

bool netlink_heard(int fd) {
  bool any = false;
  char buffer[8192];
  // Bounded: a socket buffer's worth at most, then it is "changed".
  for (int i = 0; i < 64; ++i) {
    auto n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0 || (n < 0 && errno == ENOBUFS)) {
      any = true; // ENOBUFS: announcements were lost
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    break;
  }
  return any;
}

ruleset_changes::ruleset_changes() {
  netfilter_ = netlink_subscribe(NETLINK_NETFILTER, {NFNLGRP_NFTABLES});
  routes_ = netlink_subscribe(NETLINK_ROUTE,
                              {RTNLGRP_IPV4_RULE, RTNLGRP_IPV4_ROUTE});
  // iptables-legacy changes tables the nftables group never mentions.
  auto variant = run_program({"iptables", "-V"});
  live_ = netfilter_ >= 0 && routes_ >= 0
          && variant.output.find("nf_tables") != std::string::npos;
}

ruleset_changes::~ruleset_changes() {
  for (int fd : {netfilter_, routes_})
    if (fd >= 0)
      ::close(fd);
}

bool ruleset_changes::changed() {
  bool any = !live_;
  for (int fd : {netfilter_, routes_})
    if (fd >= 0 && netlink_heard(fd))
      any = true;
  return any;
}

// `ip route get 192.0.2.1 mark M`, asked over rtnetlink without running
// `ip`. (A socket with SO_MARK connected there would be cheaper, but some
// kernels, 6.18 for one, route a UDP connect() without the socket's mark.)
bool marked_route_is_local(uint32_t mark, uint32_t table) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0)
    return true; // cannot tell: not taken for missing
  struct {
    nlmsghdr header;
    rtmsg route;
    char attributes[64];
  } request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  request.header.nlmsg_type = RTM_GETROUTE;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.header.nlmsg_seq = 1;
  request.route.rtm_family = AF_INET;
  request.route.rtm_dst_len = 32;
  request.route.rtm_flags = RTM_F_LOOKUP_TABLE; // else it says "main"
  auto add = [&](unsigned short type, uint32_t value) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(sizeof value));
    auto* at = reinterpret_cast<char*>(&request)
               + NLMSG_ALIGN(request.header.nlmsg_len);
    std::memcpy(at, &a, sizeof a);
    std::memcpy(at + RTA_LENGTH(0), &value, sizeof value);
    request.header.nlmsg_len
        = NLMSG_ALIGN(request.header.nlmsg_len) + RTA_ALIGN(a.rta_len);
  };
  add(RTA_DST, htonl(0xc0000201)); // 192.0.2.1 (TEST-NET-1)
  add(RTA_MARK, mark);
  timeval wait{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  alignas(nlmsghdr) char reply[4096];
  bool local = false;
  if (::send(fd, &request, request.header.nlmsg_len, 0) >= 0) {
    sockaddr_nl from{};
    socklen_t from_len = sizeof from;
    auto n = ::recvfrom(fd, reply, sizeof reply, 0,
                        reinterpret_cast<sockaddr*>(&from), &from_len);
    auto* h = reinterpret_cast<nlmsghdr*>(reply);
    // The kernel's answer (port 0) to this request, nothing else.
    if (n > 0 && from.nl_pid == 0 && NLMSG_OK(h, static_cast<unsigned>(n))
        && h->nlmsg_seq == request.header.nlmsg_seq
        && h->nlmsg_type == RTM_NEWROUTE
        && h->nlmsg_len >= NLMSG_LENGTH(sizeof(rtmsg))) {
      auto* route = reinterpret_cast<rtmsg*>(reply + NLMSG_HDRLEN);
      uint32_t in_table = route->rtm_table; // RTA_TABLE when above 255
      const char* at
          = reinterpret_cast<const char*>(route) + NLMSG_ALIGN(sizeof(rtmsg));
      const char* end
          = reply + std::min<size_t>(h->nlmsg_len, static_cast<size_t>(n));
      while (end - at >= static_cast<std::ptrdiff_t>(sizeof(rtattr))) {
        rtattr a;
        std::memcpy(&a, at, sizeof a);
        if (a.rta_len < sizeof a || a.rta_len > end - at)
          break;
        if (a.rta_type == RTA_TABLE && a.rta_len >= RTA_LENGTH(sizeof in_table))
          std::memcpy(&in_table, at + RTA_LENGTH(0), sizeof in_table);
        at += RTA_ALIGN(a.rta_len);
      }
      local = route->rtm_type == RTN_LOCAL && in_table == table;
    }
  }
  ::close(fd);
  return local;
}

bool rule_set::intact() {
  if (!applied_)
    return true;
  // A change anywhere (someone else's rules, a route from DHCP) reads it
  // all; the 10 s read is for a change the kernel did not announce.
  auto now = std::chrono::steady_clock::now();
  if (!changes_)
    changes_.emplace(); // subscribed before the first read below
  else if (!changes_->changed() && now - last_read_ < std::chrono::seconds{10})
    return true;
  last_read_ = now;
  return read_intact();
}

bool rule_set::read_intact() const {
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

std::string rule_set::remove() {
  // Each table tried, whatever another's fate; the first refusal said.
  std::string error;
  auto removing = [&](const char* tool, const std::string& input) {
    std::string e;
    if (!restore(tool, input, e, "removing") && error.empty())
      error = e;
  };
  for (const char* tool : {"iptables", "ip6tables"})
    removing(tool, net::capture::iptables_remove(chain_, saved_table(tool)));
  removing("iptables", net::capture::iptables_remove(
                           chain_, saved_table("iptables", "nat"), "nat"));
  remove_mangle(chain_);
  if (applied_)
    remove_policy_route(*applied_);
  applied_.reset();
  return error;
}

bool rule_set::left_in_place() const {
  auto holds = [&](const char* tool, const char* table) {
    auto saved = saved_table(tool, table);
    for (auto& c : {chain_, net::capture::mangle_in_chain(chain_)})
      if (saved.find(":" + c + " ") != std::string::npos)
        return true;
    return false;
  };
  return holds("iptables", "raw") || holds("ip6tables", "raw")
         || holds("iptables", "nat") || holds("iptables", "mangle");
}

bool rule_set::remove_route_left(const net::capture::linux_params& p) {
  auto shown = run_program({"ip", "-4", "rule", "show"});
  bool there = shown.status == 0
               && net::capture::policy_rules_present(shown.output, p.udp_mark,
                                                     p.route_table)
                      > 0;
  remove_policy_route(p);
  return there;
}

} // namespace drover::platform::linux_port
