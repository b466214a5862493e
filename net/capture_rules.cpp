#include "net/capture_rules.hpp"

#include <cctype>

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
  v4 += " and ip.DstAddr != " + ip(p.skip.proxy);
  v4 += " and ip.DstAddr != 255.255.255.255";
  v4 += " and " + outside(*parse_ipv4_cidr("169.254.0.0/16"));
  if (p.skip.multicast)
    v4 += " and " + outside(*parse_ipv4_cidr("224.0.0.0/4"));
  for (auto& c : p.skip.extra)
    v4 += " and " + outside(c);
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
  return "(event == BIND or event == CONNECT or event == CLOSE) and "
         "(tcp or udp) and !loopback";
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

std::string iptables_install(const linux_params& p) {
  const auto& ch = p.chain;
  auto q = " -j NFQUEUE --queue-num " + std::to_string(p.queue_number);
  auto listener = " -p tcp -s " + ip(p.listener.loopback_ip) + "/32 --sport "
                  + std::to_string(p.listener.port);
  std::string r = "*raw\n:" + ch + " - [0:0]\n-I OUTPUT 1 -j " + ch + "\n";
  if (p.injected_mark != 0) {
    // Drover's own fabricated UDP replies: never tracked, never captured.
    auto mark = " -m mark --mark " + std::to_string(p.injected_mark);
    r += "-A " + ch + mark + " -j CT --notrack\n";
    r += "-A " + ch + mark + " -j RETURN\n";
  }
  // The listener's return path: rewritten back to the remote's address.
  r += "-A " + ch + listener + " -j CT --notrack\n";
  r += "-A " + ch + listener + q + "\n";
  r += "-A " + ch + " -m cgroup ! --path " + p.cgroup_path + " -j RETURN\n";
  auto skip = [&](const std::string& what) {
    r += "-A " + ch + " " + what + " -j RETURN\n";
  };
  skip("-d 127.0.0.0/8");
  skip("-d " + ip(p.skip.proxy) + "/32");
  skip("-d 255.255.255.255/32");
  skip("-d 169.254.0.0/16");
  if (p.skip.multicast)
    skip("-d 224.0.0.0/4");
  skip("-p udp --dport 67:68");
  for (auto& c : p.skip.extra)
    skip("-d " + to_string(c));
  for (auto proto : {"tcp", "udp"})
    r += "-A " + ch + " -p " + proto + " -j CT --notrack\n";
  for (auto proto : {"tcp", "udp"})
    r += "-A " + ch + " -p " + proto + q + "\n";
  r += "COMMIT\n";
  return r;
}

std::string ip6tables_install(const linux_params& p) {
  const auto& ch = p.chain;
  auto q = " -j NFQUEUE --queue-num " + std::to_string(p.queue_number);
  std::string r = "*raw\n:" + ch + " - [0:0]\n-I OUTPUT 1 -j " + ch + "\n";
  r += "-A " + ch + " -m cgroup ! --path " + p.cgroup_path + " -j RETURN\n";
  for (auto dst : {"::1/128", "fe80::/10", "ff00::/8"})
    r += "-A " + ch + " -d " + dst + " -j RETURN\n";
  r += "-A " + ch + " -p udp --dport 546:547 -j RETURN\n";
  for (auto proto : {"tcp", "udp"})
    r += "-A " + ch + " -p " + proto + q + "\n";
  r += "COMMIT\n";
  return r;
}

std::string iptables_remove(std::string_view chain) {
  std::string ch{chain};
  return "*raw\n-D OUTPUT -j " + ch + "\n-F " + ch + "\n-X " + ch
         + "\nCOMMIT\n";
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

} // namespace drover::net::capture
