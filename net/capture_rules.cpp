#include "net/capture_rules.hpp"

#include "net/packet.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace drover::net::capture {

namespace {

std::string ip(ipv4_address a) {
  return to_string(a);
}

ipv4_address last_address(const ipv4_cidr& c) {
  auto host_bits = c.prefix_length == 0
                       ? ~uint32_t{0}
                       : ~(~uint32_t{0} << (32 - c.prefix_length));
  return ipv4_address{c.network.value | host_bits};
}

// "(ip.DstAddr < first or ip.DstAddr > last)": WinDivert has no masks.
std::string outside(const ipv4_cidr& c) {
  if (c.prefix_length == 32)
    return "ip.DstAddr != " + ip(c.network);
  return "(ip.DstAddr < " + ip(c.network) + " or ip.DstAddr > "
         + ip(last_address(c)) + ")";
}

} // namespace

std::string windivert_network_filter(const windivert_params& p) {
  std::string v4 = "ip and (tcp or (udp and udp.DstPort != 67 and "
                   "udp.DstPort != 68))";
  for (auto& c : excluded_ranges(p.skip))
    v4 += " and " + outside(c);
  for (auto b : p.broadcasts)
    v4 += " and " + outside({b, 32});
  std::string captured = "(" + v4 + ")";
  if (p.capture_ipv6)
    captured += " or (ipv6 and (tcp or (udp and udp.DstPort != 546 and "
                "udp.DstPort != 547)) and ipv6.DstAddr < ff00:: and "
                "(ipv6.DstAddr < fe80:: or ipv6.DstAddr > "
                "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff))";
  std::string filter
      = "(outbound and !loopback and !impostor and (" + captured + "))";
  // The listener's replies are loopback packets from its port, in both
  // shapes (packets from this host to itself count as loopback).
  filter += " or (outbound and loopback and ip and tcp and tcp.SrcPort == "
            + std::to_string(p.listener.port) + ")";
  return filter;
}

std::string windivert_socket_filter() {
  // Drover's own sockets included: their packets (to a UDP relay at another
  // address than the proxy, say) are then known to be nobody's target at
  // once, instead of waiting for their owner.
  return "(event == BIND or event == CONNECT or event == LISTEN or "
         "event == ACCEPT or event == CLOSE) and (tcp or udp) and !loopback";
}

filter_size measure_windivert_filter(std::string_view f) {
  filter_size size;
  size_t i = 0;
  auto is_word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ':'
           || c == '_' || c == '[' || c == ']';
  };
  bool after_comparison = false;
  while (i < f.size()) {
    char c = f[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    size_t start = i;
    if (is_word(c)) {
      while (i < f.size() && is_word(f[i]))
        ++i;
    } else if ((c == '=' || c == '!' || c == '<' || c == '>' || c == '&'
                || c == '|')
               && i + 1 < f.size()
               && (f[i + 1] == '=' || f[i + 1] == '&' || f[i + 1] == '|')) {
      i += 2;
    } else {
      ++i;
    }
    auto token = f.substr(start, i - start);
    ++size.tokens;
    size.longest_token = std::max(size.longest_token, token.size());
    bool comparison = token == "==" || token == "!=" || token == "<"
                      || token == ">" || token == "<=" || token == ">=";
    bool keyword = token == "and" || token == "or" || token == "not"
                   || token == "&&" || token == "||" || token == "!"
                   || token == "(" || token == ")" || token == "true"
                   || token == "false";
    // A field test is a field name not used as a comparison's value.
    if (!comparison && !keyword && is_word(token[0]) && !after_comparison)
      ++size.tests;
    after_comparison = comparison;
  }
  return size;
}

std::string check_windivert_filter(std::string_view filter,
                                   const filter_limits& limits) {
  auto s = measure_windivert_filter(filter);
  if (s.tests > limits.max_instructions)
    return "the capture filter has " + std::to_string(s.tests)
           + " tests; WinDivert compiles at most "
           + std::to_string(limits.max_instructions)
           + " instructions (too many [skip].extra_skip_cidrs?)";
  if (s.tokens > limits.max_tokens)
    return "the capture filter has " + std::to_string(s.tokens)
           + " tokens; WinDivert accepts about "
           + std::to_string(limits.max_tokens);
  if (s.longest_token > limits.max_token_length)
    return "the capture filter has a token of "
           + std::to_string(s.longest_token)
           + " characters; WinDivert accepts at most "
           + std::to_string(limits.max_token_length);
  return {};
}

std::vector<ipv4_address>
subnet_broadcasts(const std::vector<interface_address>& addresses) {
  std::vector<ipv4_address> out;
  auto add = [&](ipv4_address a) {
    if (a.value != 0 && a.value != 0xffffffff)
      out.push_back(a);
  };
  for (auto& a : addresses) {
    if (a.prefix_length > 0 && a.prefix_length < 31)
      add({a.address.value | (0xffffffffu >> a.prefix_length)});
    if (a.broadcast != a.address) // glibc's getifaddrs: none was set
      add(a.broadcast);
  }
  std::sort(out.begin(), out.end(),
            [](ipv4_address x, ipv4_address y) { return x.value < y.value; });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<ipv4_cidr> excluded_ranges(const exclusions& skip) {
  std::vector<ipv4_cidr> out;
  if (skip.proxy.value != 0)
    out.push_back({skip.proxy, 32});
  for (auto other : skip.other_proxies)
    if (other.value != 0)
      out.push_back({other, 32});
  out.push_back({ipv4_address{0xffffffff}, 32});
  out.push_back(*parse_ipv4_cidr("169.254.0.0/16"));
  if (skip.multicast)
    out.push_back(*parse_ipv4_cidr("224.0.0.0/4"));
  out.insert(out.end(), skip.extra.begin(), skip.extra.end());
  return out;
}

namespace {

// The rule lines of a built-in chain ("-A OUTPUT ..." lines), in order.
std::vector<std::string_view> hook_rules(std::string_view saved,
                                         std::string_view hook) {
  std::vector<std::string_view> out;
  std::string prefix = "-A " + std::string{hook} + " ";
  size_t pos = 0;
  while (pos < saved.size()) {
    auto end = saved.find('\n', pos);
    if (end == std::string_view::npos)
      end = saved.size();
    auto line = saved.substr(pos, end - pos);
    if (line.rfind(prefix, 0) == 0)
      out.push_back(line);
    pos = end + 1;
  }
  return out;
}

bool is_jump(std::string_view rule, std::string_view chain,
             std::string_view hook) {
  return rule == "-A " + std::string{hook} + " -j " + std::string{chain};
}

// Exactly one jump from `hook` to `chain`, first: nothing when that is so
// already, else the deletions and the insertion that make it so.
std::string jump_first(std::string_view chain, std::string_view saved,
                       std::string_view hook) {
  std::string ch{chain}, h{hook};
  auto rules = hook_rules(saved, hook);
  size_t jumps = 0;
  for (auto rule : rules)
    jumps += is_jump(rule, chain, hook) ? 1u : 0u;
  if (jumps == 1 && is_jump(rules.front(), chain, hook))
    return {};
  std::string r;
  for (size_t i = 0; i < jumps; ++i)
    r += "-D " + h + " -j " + ch + "\n";
  return r + "-I " + h + " 1 -j " + ch + "\n";
}

// The header of an install: the chain declared (emptied if it exists) and
// exactly one jump to it, first in OUTPUT.
std::string install_header(std::string_view chain, std::string_view saved,
                           std::string_view table = "raw") {
  return "*" + std::string{table} + "\n:" + std::string{chain} + " - [0:0]\n"
         + jump_first(chain, saved, "OUTPUT");
}

size_t chain_rule_count(std::string_view text, std::string_view chain) {
  std::string needle = "-A " + std::string{chain} + " ";
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + 1))
    if (pos == 0 || text[pos - 1] == '\n')
      ++n;
  return n;
}

// A subnet's broadcast address (the kernel knows which, as the interfaces'
// addresses come and go): LAN discovery, never the proxy's to carry.
const std::string local_broadcast = "-m addrtype --dst-type BROADCAST";

// Every proxy's targets: the target mark, any proxy index.
std::string targets(const linux_params& p) {
  return std::to_string(p.target_mark & ~proxy_index_bits) + "/"
         + std::to_string(~proxy_index_bits);
}

} // namespace

std::string iptables_install(const linux_params& p, std::string_view saved) {
  const auto& ch = p.chain;
  auto q = " -j NFQUEUE --queue-num " + std::to_string(p.queue_number);
  auto listener = " -p tcp -s " + ip(p.listener.loopback_ip) + "/32 --sport "
                  + std::to_string(p.listener.port);
  bool redirected = p.redirect_port != 0;
  std::string r = install_header(ch, saved);
  // A blocked program's connection attempt: the engine answers it with a
  // reset (refused at once, not a timeout). Without --queue-bypass: while
  // no engine reads, it is dropped.
  if (p.block_mark != 0)
    r += "-A " + ch + " -p tcp -m mark --mark " + std::to_string(p.block_mark)
         + " ! -d 127.0.0.0/8 --tcp-flags SYN,ACK,RST SYN" + q + "\n";
  // TCP is the nat table's (tracked, redirected there); it leaves this
  // chain at its first rule, so no data segment walks the rest.
  if (redirected)
    r += "-A " + ch + " -p tcp -j RETURN\n";
  if (p.injected_mark != 0) {
    // Drover's own fabricated UDP replies: never tracked, never captured.
    auto mark = " -m mark --mark " + std::to_string(p.injected_mark);
    r += "-A " + ch + mark + " -j CT --notrack\n";
    r += "-A " + ch + mark + " -j RETURN\n";
  }
  // The listener's return path: rewritten back to the remote's address
  // (when the kernel redirects, conntrack does that).
  if (!redirected) {
    r += "-A " + ch + listener + " -j CT --notrack\n";
    r += "-A " + ch + listener + q + "\n";
  }
  // Any process's "port unreachable": the engine drops those that answer a
  // reply it injected for a target whose socket has closed (they would go
  // to the remote, direct) and lets the rest out. Any process's resets: one
  // from an application's stack about a proxied connection (its socket
  // gone) would go to the remote; the engine sends it into its flow instead,
  // and lets the rest out. Both with --queue-bypass: while no engine reads
  // the queue, the machine's errors and resets go on as without Drover
  // (the targets' own traffic stays blocked by the rules below).
  auto answers = q + " --queue-bypass\n";
  // ... except those that answer a datagram the relay delivered (its IP
  // identification, quoted at ICMP offset 8 + 4): queued even while no
  // engine reads the queue (then dropped), as they may come before the
  // engine knows the flow and must never go out.
  // (With TPROXY only: the queued path knows its flows before it
  // delivers, and a kernel without xt_u32 then still has that path.)
  auto unreachable = std::string{" -p icmp --icmp-type port-unreachable"};
  if (p.tproxy_port != 0)
    r += "-A " + ch + unreachable + " -m u32 --u32 \"0>>22&0x3C@12>>16="
         + std::to_string(delivered_ip_id) + "\"" + q + "\n";
  r += "-A " + ch + unreachable + answers;
  if (!redirected)
    r += "-A " + ch + " -p tcp --tcp-flags RST RST -m mark ! --mark "
         + targets(p) + answers;
  r += "-A " + ch + " -m mark ! --mark " + targets(p) + " -j RETURN\n";
  auto skip = [&](const std::string& what) {
    r += "-A " + ch + " " + what + " -j RETURN\n";
  };
  skip("-d 127.0.0.0/8");
  skip(local_broadcast);
  for (auto& c : excluded_ranges(p.skip))
    skip("-d " + to_string(c));
  skip("-p udp --dport 67:68");
  std::vector<const char*> untracked{"udp"};
  if (!redirected)
    untracked.insert(untracked.begin(), "tcp");
  for (auto proto : untracked)
    r += "-A " + ch + " -p " + proto + " -j CT --notrack\n";
  // With TPROXY the mangle table sends the (untracked) UDP to the relay.
  if (!redirected)
    r += "-A " + ch + " -p tcp" + q + "\n";
  if (p.tproxy_port == 0)
    r += "-A " + ch + " -p udp" + q + "\n";
  r += "COMMIT\n";
  return r;
}

std::string iptables_nat_install(const linux_params& p,
                                 std::string_view saved) {
  if (p.redirect_port == 0)
    return {};
  const auto& ch = p.chain;
  std::string r = install_header(ch, saved, "nat");
  r += "-A " + ch + " -m mark ! --mark " + targets(p) + " -j RETURN\n";
  r += "-A " + ch + " -d 127.0.0.0/8 -j RETURN\n";
  r += "-A " + ch + " " + local_broadcast + " -j RETURN\n";
  for (auto& c : excluded_ranges(p.skip))
    r += "-A " + ch + " -d " + to_string(c) + " -j RETURN\n";
  // Each proxy's targets to its own relay.
  for (size_t i = 0; i < p.more_proxies.size(); ++i)
    r += "-A " + ch + " -p tcp -m mark --mark "
         + std::to_string(p.target_mark + 1 + i) + " -j REDIRECT --to-ports "
         + std::to_string(p.more_proxies[i].first) + "\n";
  r += "-A " + ch + " -p tcp -j REDIRECT --to-ports "
       + std::to_string(p.redirect_port) + "\n";
  r += "COMMIT\n";
  return r;
}

std::string mangle_in_chain(std::string_view chain) {
  return std::string{chain} + "_IN";
}

std::string iptables_mangle_install(const linux_params& p,
                                    std::string_view saved) {
  if (p.tproxy_port == 0)
    return {};
  const auto& ch = p.chain;
  auto in = mangle_in_chain(ch);
  auto udp_mark = std::to_string(p.udp_mark);
  std::string r = "*mangle\n:" + ch + " - [0:0]\n:" + in + " - [0:0]\n"
                  + jump_first(ch, saved, "OUTPUT")
                  + jump_first(in, saved, "PREROUTING");
  // OUTPUT: the targets' UDP to anywhere not excluded gets the UDP mark,
  // and the kernel routes it again by that mark: to the local table, so
  // it loops back through lo keeping its addresses.
  r += "-A " + ch + " -m mark ! --mark " + targets(p) + " -j RETURN\n";
  r += "-A " + ch + " -d 127.0.0.0/8 -j RETURN\n";
  r += "-A " + ch + " " + local_broadcast + " -j RETURN\n";
  for (auto& c : excluded_ranges(p.skip))
    r += "-A " + ch + " -d " + to_string(c) + " -j RETURN\n";
  r += "-A " + ch + " -p udp --dport 67:68 -j RETURN\n";
  // The UDP mark, keeping the proxy's index in the low bits.
  r += "-A " + ch + " -p udp -j MARK --set-xmark " + udp_mark + "/"
       + std::to_string(~proxy_index_bits) + "\n";
  // PREROUTING: back in on lo, TPROXY hands it to its proxy's relay's
  // transparent socket with its destination untouched.
  auto tproxy = [&](uint32_t mark, uint16_t port) {
    auto m = std::to_string(mark);
    r += "-A " + in + " -i lo -p udp -m mark --mark " + m
         + " -j TPROXY --on-port " + std::to_string(port)
         + " --on-ip 127.0.0.1 --tproxy-mark " + m + "\n";
  };
  tproxy(p.udp_mark, p.tproxy_port);
  for (size_t i = 0; i < p.more_proxies.size(); ++i)
    tproxy(p.udp_mark + 1 + static_cast<uint32_t>(i), p.more_proxies[i].second);
  r += "COMMIT\n";
  return r;
}

std::string ip6tables_install(const linux_params& p, std::string_view saved) {
  const auto& ch = p.chain;
  auto q = " -j NFQUEUE --queue-num " + std::to_string(p.queue_number);
  std::string r = install_header(ch, saved);
  r += "-A " + ch + " -m mark ! --mark " + targets(p) + " -j RETURN\n";
  for (auto dst : {"::1/128", "fe80::/10", "ff00::/8"})
    r += "-A " + ch + " -d " + dst + " -j RETURN\n";
  r += "-A " + ch + " -p udp --dport 546:547 -j RETURN\n";
  for (auto proto : {"tcp", "udp"})
    r += "-A " + ch + " -p " + proto + q + "\n";
  r += "COMMIT\n";
  return r;
}

std::string iptables_remove(std::string_view chain, std::string_view saved,
                            std::string_view table) {
  std::string ch{chain};
  std::string r;
  for (auto hook : {"OUTPUT", "PREROUTING"})
    for (auto rule : hook_rules(saved, hook))
      if (is_jump(rule, chain, hook))
        r += "-D " + std::string{hook} + " -j " + ch + "\n";
  if (save_output_has_chain(saved, chain))
    r += "-F " + ch + "\n-X " + ch + "\n";
  return r.empty() ? r : "*" + std::string{table} + "\n" + r + "COMMIT\n";
}

std::string_view saved_table_of(std::string_view save_all,
                                std::string_view table) {
  std::string header = "*" + std::string{table} + "\n";
  size_t start = 0;
  for (;;) {
    start = save_all.find(header, start);
    if (start == std::string_view::npos)
      return {};
    if (start == 0 || save_all[start - 1] == '\n')
      break;
    ++start;
  }
  auto end = save_all.find("\nCOMMIT\n", start);
  end = end == std::string_view::npos ? save_all.size() : end + 8;
  return save_all.substr(start, end - start);
}

bool save_output_has_chain(std::string_view save_output,
                           std::string_view chain) {
  std::string needle = ":" + std::string{chain} + " ";
  size_t pos = 0;
  while ((pos = save_output.find(needle, pos)) != std::string_view::npos) {
    if (pos == 0 || save_output[pos - 1] == '\n')
      return true;
    ++pos;
  }
  return false;
}

bool rules_intact(std::string_view saved, std::string_view install,
                  std::string_view chain, std::string_view hook) {
  auto rules = hook_rules(saved, hook);
  return save_output_has_chain(saved, chain) && !rules.empty()
         && is_jump(rules.front(), chain, hook)
         && chain_rule_count(saved, chain) == chain_rule_count(install, chain);
}

namespace {

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])))
      ++i;
    size_t start = i;
    while (i < line.size()
           && !std::isspace(static_cast<unsigned char>(line[i])))
      ++i;
    if (i > start)
      out.push_back(line.substr(start, i - start));
  }
  return out;
}

template<class F>
void for_each_line(std::string_view text, F f) {
  size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    f(text.substr(pos, end - pos));
    pos = end + 1;
  }
}

} // namespace

size_t policy_rules_present(std::string_view ip_rule_show, uint32_t mark,
                            uint32_t table) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%x/0x%x", mark, ~proxy_index_bits);
  auto lookup = std::to_string(table);
  size_t n = 0;
  for_each_line(ip_rule_show, [&](std::string_view line) {
    auto w = words(line);
    bool marked = false, routed = false;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      // "fwmark 0x44520008/0xfffffff8".
      if (w[i] == "fwmark")
        marked = w[i + 1] == hex;
      if (w[i] == "lookup" || w[i] == "table")
        routed = w[i + 1] == lookup;
    }
    n += marked && routed ? 1u : 0u;
  });
  return n;
}

} // namespace drover::net::capture
