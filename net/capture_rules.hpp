#pragma once

// What to capture, as data: the WinDivert filter strings for Windows and
// the iptables rule set for Linux. Built once per start, never on the
// packet path.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/ipv4.hpp"
#include "net/nat.hpp"

namespace drover::net::capture {

/// Destinations that are never captured (besides loopback, link-local,
/// broadcast and DHCP, which never are; the subnets' broadcast addresses
/// are the OS's to know: subnet_broadcasts()).
struct exclusions {
  ipv4_address proxy; // the upstream proxy (self-loop guard)
  std::vector<ipv4_address> other_proxies; // the other `[[proxy]]`s' too
  bool multicast = true;                   // skip 224.0.0.0/4
  std::vector<ipv4_cidr> extra;            // [skip].extra_skip_cidrs
};

/// An IPv4 address of a network interface, as the OS lists it.
struct interface_address {
  ipv4_address address;
  uint8_t prefix_length = 32;
  ipv4_address broadcast; // 0: none set
};

/// The subnet broadcast addresses of `addresses`, which a target's LAN
/// discovery reaches directly (the proxy's network is not the user's LAN):
/// the kernel's rule, each network's highest address up to /30, and any
/// broadcast address set explicitly (one equal to the interface's own
/// address is none: getifaddrs says so when none was set). Without
/// 255.255.255.255 (skipped anyway); sorted, each once.
std::vector<ipv4_address>
subnet_broadcasts(const std::vector<interface_address>& addresses);

// -- Windows: WinDivert 2.x filters ------------------------------------------

struct windivert_params {
  exclusions skip;
  /// The subnets' broadcast addresses when the capture opened
  /// (subnet_broadcasts()): a target's LAN discovery goes to the LAN.
  std::vector<ipv4_address> broadcasts;
  listener_address listener;
  /// Also divert outbound IPv6 TCP/UDP, so a target's IPv6 is dropped (and
  /// counted) rather than leaked; other processes' IPv6 is re-injected.
  bool capture_ipv6 = true;
};

/// The NETWORK-layer filter: outbound IPv4 TCP/UDP minus the exclusions,
/// plus the listener's return path (loopback, source port = listener).
std::string windivert_network_filter(const windivert_params& p);

/// The SOCKET-layer attribution filter (open with SNIFF | RECV_ONLY):
/// bind, connect, listen, accept and close events of non-loopback TCP/UDP
/// sockets (each but close names a local port's owner before its first
/// packet).
std::string windivert_socket_filter();

/// WinDivert's documented limits: at most 256 compiled instructions, about
/// 1279 tokens, tokens of at most 40 characters.
struct filter_limits {
  size_t max_instructions = 256;
  size_t max_tokens = 1279;
  size_t max_token_length = 40;
};

struct filter_size {
  size_t tests = 0; // field tests: an upper bound on compiled instructions
  size_t tokens = 0;
  size_t longest_token = 0;
};

filter_size measure_windivert_filter(std::string_view filter);

/// An empty string if `filter` is within the limits, otherwise what is
/// over them.
std::string check_windivert_filter(std::string_view filter,
                                   const filter_limits& limits = {});

// -- Linux: iptables raw OUTPUT with a socket-mark match, NFQUEUE -----------

/// The IPv4 destinations a target reaches without the capture, besides
/// loopback: the proxy, broadcast, link-local, multicast (when skipped) and
/// the [skip] ranges. The rules return them unqueued, and the kernel fence
/// lets them out.
std::vector<ipv4_cidr> excluded_ranges(const exclusions& skip);

/// A target's socket carries target_mark + the index of its rule's proxy
/// (0..7); the rules match all of them with this mask.
constexpr uint32_t proxy_index_bits = 0x7;

struct linux_params {
  std::string chain = "DROVER";
  uint32_t target_mark = 0; // what the kernel program marks targets' sockets
  /// ... and the sockets of programs a `block` rule matches: their new TCP
  /// connections (but to loopback) are queued for the engine to refuse
  /// with a reset; the kernel's fence drops the rest. 0: none.
  uint32_t block_mark = 0;
  uint16_t queue_number = 0;
  listener_address listener;  // shape must be loopback
  uint32_t injected_mark = 0; // SO_MARK of Drover's injected UDP replies
  exclusions skip;
  /// Not 0: the kernel redirects the targets' TCP connections to this
  /// loopback port (nat OUTPUT REDIRECT, iptables_nat_install), and only
  /// their UDP is queued. 0: TCP is queued and rewritten by the engine too
  /// (a kernel without NAT).
  uint16_t redirect_port = 0;
  /// Not 0: the kernel hands the targets' UDP to a transparent socket on
  /// this loopback port (iptables_mangle_install and a policy route for
  /// `udp_mark` to `route_table`), and the raw table queues none of it.
  /// 0: UDP is queued and relayed by the engine (a kernel without TPROXY).
  uint16_t tproxy_port = 0;
  /// The relays of proxies 1, 2, ...: each one's TCP redirect port and
  /// TPROXY port (proxy 0's are the two above). Their targets' sockets
  /// carry target_mark + the proxy's index. Only with both redirects.
  std::vector<std::pair<uint16_t, uint16_t>> more_proxies;
  /// The UDP mark's low bits carry the proxy's index too; the policy route
  /// matches them all (`fwmark udp_mark/~proxy_index_bits`).
  uint32_t udp_mark = 0;
  uint32_t route_table = 0;
};

/// Input for `iptables-restore --noflush`: (re)fills the chain and makes
/// its jump the first rule of raw OUTPUT, in one atomic transaction, given
/// what `iptables-save -t raw` shows now. Whatever was there before (the
/// previous session's rules, a killed engine's, half of them flushed)
/// keeps working until the transaction replaces it: no moment without
/// rules. NOTRACKs and queues the targets' IPv4 TCP/UDP and the listener's
/// return packets.
std::string iptables_install(const linux_params& p, std::string_view saved);

/// Input for `iptables-restore --noflush` on the nat table, given what
/// `iptables-save -t nat` shows: the targets' new IPv4 TCP connections to
/// anywhere not excluded are redirected to `p.redirect_port` on loopback
/// (conntrack keeps the original destination for SO_ORIGINAL_DST). Empty
/// when `p.redirect_port` is 0. Installed before the raw table's rules,
/// which stop queueing TCP: never a moment when neither path holds.
std::string iptables_nat_install(const linux_params& p, std::string_view saved);

/// The PREROUTING chain of the mangle table's rules: `chain` + "_IN".
std::string mangle_in_chain(std::string_view chain);

/// Input for `iptables-restore --noflush` on the mangle table, given what
/// `iptables-save -t mangle` shows: OUTPUT gives the targets' UDP to
/// anywhere not excluded `p.udp_mark`, so a policy route (`ip rule fwmark
/// udp_mark lookup route_table`, whose table routes everything to lo)
/// loops it back; PREROUTING then TPROXYs it to `p.tproxy_port` with its
/// destination unchanged. Empty when `p.tproxy_port` is 0.
std::string iptables_mangle_install(const linux_params& p,
                                    std::string_view saved);

/// The same for `ip6tables-restore --noflush`: queues the targets' IPv6
/// TCP/UDP so the engine drops (and counts) it instead of leaking it.
std::string ip6tables_install(const linux_params& p, std::string_view saved);

/// Input for `iptables-restore --noflush` / `ip6tables-restore --noflush`
/// that removes the chain and every jump to it (from OUTPUT or
/// PREROUTING) from `table`, given what
/// `iptables-save -t <table>` shows; empty when there is nothing to remove.
std::string iptables_remove(std::string_view chain, std::string_view saved,
                            std::string_view table = "raw");

/// The part of `iptables-save` output (every table) that is `table`'s,
/// from its "*table" line to its COMMIT; empty if it is not there.
std::string_view saved_table_of(std::string_view save_all,
                                std::string_view table);

/// True if `iptables-save -t raw` output contains the chain.
bool save_output_has_chain(std::string_view save_output,
                           std::string_view chain);

/// True if the saved table holds the rules `install` put in: the chain
/// with as many rules, and its jump first in `hook`. Someone flushing or
/// reordering the table (a firewall reload) makes it false.
bool rules_intact(std::string_view saved, std::string_view install,
                  std::string_view chain, std::string_view hook = "OUTPUT");

/// How many rules `ip -4 rule show` lists that send `mark` (with the mask
/// ~proxy_index_bits) to `table`.
size_t policy_rules_present(std::string_view ip_rule_show, uint32_t mark,
                            uint32_t table);

} // namespace drover::net::capture
