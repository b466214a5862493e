// Linux only, root: the pure packet and rule code checked against the real
// kernel, in network namespaces this test makes and removes.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/bytes.hpp"
#include "net/capture_rules.hpp"
#include "net/packet.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/pcap.hpp"

using namespace drover;
using namespace drover::net;
using drover::test::inside;
using drover::test::sh;
using drover::test::sh_output;

namespace {

#define REQUIRE_ROOT_AND(cmd)                                       \
  if (!drover::test::is_root() || !drover::test::have_command(cmd)) \
  GTEST_SKIP() << "needs root and " << (cmd)

endpoint ep(const std::string& ip, uint16_t port) {
  return {*parse_ipv4(ip), port};
}

int udp_socket_bound(const std::string& ip, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    ADD_FAILURE() << "bind " << ip << ":" << port << ": "
                  << std::strerror(errno);
  return fd;
}

void send_raw(int raw, const std::vector<uint8_t>& packet) {
  packet_info info;
  ASSERT_EQ(parse(packet.data(), packet.size(), info), parse_error::none);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(info.dst.ip.value);
  ASSERT_EQ(::sendto(raw, packet.data(), packet.size(), 0,
                     reinterpret_cast<sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(packet.size()))
      << std::strerror(errno);
}

// Waits (bounded) for one datagram; returns its payload or "" on timeout.
std::string receive(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1)
    return {};
  char buf[2048];
  auto n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string{};
}

int count_of(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1))
    ++n;
  return n;
}

} // namespace

TEST(kernel, rewritten_and_built_udp_is_accepted_bad_checksum_is_not) {
  REQUIRE_ROOT_AND("ip");
  drover::test::veth_pair net{"ck", 78};
  int rx = inside(net.b, [&] { return udp_socket_bound(net.ip_b, 7000); });
  int raw = inside(net.a, [] {
    return ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  });
  ASSERT_GE(raw, 0) << std::strerror(errno);

  // 1. A datagram built from scratch.
  std::vector<uint8_t> built(100);
  std::string hello = "built from scratch";
  built.resize(build_ipv4_udp(
      built.data(), built.size(), ep(net.ip_a, 5000), ep(net.ip_b, 7000),
      reinterpret_cast<const uint8_t*>(hello.data()), hello.size(), 1));
  send_raw(raw, built);
  EXPECT_EQ(receive(rx, 3000), hello);

  // 2. A real captured datagram, rewritten in place (incremental checksum).
  auto captured = drover::test::fixtures("fixtures-complete.pcap")[5];
  packet_ref p{captured.data(), {}};
  ASSERT_EQ(parse(captured.data(), captured.size(), p.info), parse_error::none);
  set_source(p, ep(net.ip_a, 40000));
  set_destination(p, ep(net.ip_b, 7000));
  send_raw(raw, captured);
  EXPECT_EQ(receive(rx, 3000), "ping over udp");

  // 3. The same with one payload byte changed after the checksum: the
  // receiving kernel must drop it and count a checksum error. This is what
  // makes the two checks above able to fail.
  long errors_before
      = inside(net.b, [] { return test::snmp_counter("Udp", "InCsumErrors"); });
  auto corrupt = captured;
  corrupt.back() ^= 0x01;
  send_raw(raw, corrupt);
  EXPECT_EQ(receive(rx, 500), "");
  long errors_after
      = inside(net.b, [] { return test::snmp_counter("Udp", "InCsumErrors"); });
  EXPECT_EQ(errors_after, errors_before + 1);
  ::close(rx);
  ::close(raw);
}

TEST(kernel, rewritten_tcp_segment_passes_the_checksum_check) {
  REQUIRE_ROOT_AND("ip");
  drover::test::veth_pair net{"tk", 79};
  int raw = inside(net.a, [] {
    return ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  });
  ASSERT_GE(raw, 0);
  auto syn = drover::test::fixtures("fixtures-complete.pcap")[0];
  packet_ref p{syn.data(), {}};
  ASSERT_EQ(parse(syn.data(), syn.size(), p.info), parse_error::none);
  set_source(p, ep(net.ip_a, 41000));
  set_destination(p, ep(net.ip_b, 8000));
  auto counters = [&] {
    return inside(net.b, [] {
      return std::make_pair(test::snmp_counter("Tcp", "InSegs"),
                            test::snmp_counter("Tcp", "InCsumErrors"));
    });
  };
  // ARP resolution and the first packet may take a moment: wait for the
  // counter, bounded.
  auto before = counters();
  send_raw(raw, syn);
  auto after = counters();
  test::eventually([&] { return (after = counters()).first != before.first; },
                   std::chrono::seconds{3});
  EXPECT_EQ(after.first, before.first + 1) << "segment not received";
  EXPECT_EQ(after.second, before.second) << "checksum rejected";
  auto bad = syn;
  bad[bad.size() - 1] ^= 0xff; // an option byte, covered by the checksum
  send_raw(raw, bad);
  test::eventually([&] { return counters().second != before.second; },
                   std::chrono::seconds{3});
  EXPECT_EQ(counters().second, before.second + 1);
  ::close(raw);
}

namespace {

// A TUN device named `name` in `ns` with fd78::1 and 10.78.0.1, up: the
// network, as far as the namespace's stack knows. -1 if it cannot be made.
int tun_with_addresses(drover::test::netns& ns, const std::string& name) {
  int tun = inside(ns, [&] {
    int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    ifreq r{};
    r.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(r.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (fd >= 0 && ::ioctl(fd, TUNSETIFF, &r) != 0) {
      ::close(fd);
      fd = -1;
    }
    return fd;
  });
  // nodad: the address is usable at once, not after duplicate detection.
  if (tun >= 0
      && sh("ip -n " + ns.name() + " addr add fd78::1/64 dev " + name
            + " nodad && ip -n " + ns.name() + " addr add 10.78.0.1/24 dev "
            + name + " && ip -n " + ns.name() + " link set " + name + " up")
             != 0) {
    ::close(tun);
    tun = -1;
  }
  return tun;
}

// The first IPv`version` packet of `protocol` the stack sends to the TUN
// device, among whatever else it sends on a new link (router
// solicitations, listener reports): bounded; empty if none came.
std::vector<uint8_t> next_sent(int tun, int version, uint8_t protocol) {
  for (int i = 0; i < 50; ++i) {
    pollfd p{tun, POLLIN, 0};
    if (::poll(&p, 1, 3000) != 1)
      return {};
    std::vector<uint8_t> got(2048);
    auto n = ::read(tun, got.data(), got.size());
    if (n <= 0)
      return {};
    got.resize(static_cast<size_t>(n));
    if (version == 6 && got.size() >= 48 && (got[0] >> 4) == 6
        && got[6] == protocol)
      return got;
    if (version == 4 && got.size() >= 28 && (got[0] >> 4) == 4
        && got[9] == protocol)
      return got;
  }
  return {};
}

sockaddr_in6 fd78_2(uint16_t port) {
  sockaddr_in6 remote{};
  remote.sin6_family = AF_INET6;
  remote.sin6_port = htons(port);
  ::inet_pton(AF_INET6, "fd78::2", &remote.sin6_addr);
  return remote;
}

} // namespace

// What a target's IPv6 connection meets on Windows: its SYN is taken and
// the reset build_tcp_reset makes for it comes back as if from the remote.
// Here the kernel's own stack is that application: a TUN device stands for
// the network, and the connect must fail at once with "refused" (a reset
// with a wrong checksum, addresses or acknowledgement would be ignored and
// the connect would hang on its retransmissions).
TEST(kernel, an_ipv6_connect_answered_by_the_built_reset_is_refused) {
  REQUIRE_ROOT_AND("ip");
  drover::test::netns ns{"rst6"};
  int tun = tun_with_addresses(ns, "drt6");
  ASSERT_GE(tun, 0) << "a TUN device: " << std::strerror(errno);
  int app = inside(ns, [] {
    return ::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  });
  ASSERT_GE(app, 0);
  auto remote = fd78_2(443);
  ASSERT_NE(::connect(app, reinterpret_cast<sockaddr*>(&remote), sizeof remote),
            0);
  ASSERT_EQ(errno, EINPROGRESS);
  auto syn = next_sent(tun, 6, proto_tcp);
  ASSERT_GE(syn.size(), 60u) << "no SYN reached the device";
  ASSERT_NE(syn[40 + 13] & tcp_flag::syn, 0);
  packet_info info;
  ASSERT_EQ(parse(syn.data(), syn.size(), info), parse_error::none);
  std::vector<uint8_t> rst(80);
  rst.resize(build_tcp_reset(rst.data(), rst.size(), syn.data(), info));
  ASSERT_EQ(rst.size(), 60u);
  ASSERT_EQ(::write(tun, rst.data(), rst.size()), 60);
  pollfd p{app, POLLOUT, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1) << "the reset was not taken";
  int error = 0;
  socklen_t len = sizeof error;
  ::getsockopt(app, SOL_SOCKET, SO_ERROR, &error, &len);
  EXPECT_EQ(error, ECONNREFUSED) << std::strerror(error);
  ::close(app);
  ::close(tun);
}

namespace {

// A connected UDP socket of `family` in a namespace of its own sends a
// datagram to `remote`; `answer` builds the port unreachable for it, which
// goes back through the TUN device: the socket's receive must fail with
// "refused" (a wrong checksum, quote or address would be ignored, and the
// application would wait for an answer that never comes).
using build_answer
    = size_t (*)(uint8_t*, size_t, const uint8_t*, const packet_info&);
void expect_datagram_refused(const std::string& name, int family,
                             const sockaddr* remote, socklen_t remote_size,
                             build_answer answer_for) {
  drover::test::netns ns{name};
  int tun = tun_with_addresses(ns, "dr" + name);
  ASSERT_GE(tun, 0) << "a TUN device: " << std::strerror(errno);
  int app = inside(ns, [&] {
    return ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  });
  ASSERT_GE(app, 0);
  ASSERT_EQ(::connect(app, remote, remote_size), 0) << std::strerror(errno);
  ASSERT_EQ(::send(app, "voice?", 6, 0), 6);
  auto datagram = next_sent(tun, family == AF_INET6 ? 6 : 4, proto_udp);
  ASSERT_FALSE(datagram.empty()) << "no datagram reached the device";
  packet_info info;
  ASSERT_EQ(parse(datagram.data(), datagram.size(), info), parse_error::none);
  std::vector<uint8_t> answer(1280);
  answer.resize(
      answer_for(answer.data(), answer.size(), datagram.data(), info));
  ASSERT_EQ(answer.size(), (family == AF_INET6 ? 48 : 28) + datagram.size());
  ASSERT_EQ(::write(tun, answer.data(), answer.size()),
            static_cast<ssize_t>(answer.size()));
  pollfd p{app, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1) << "the port unreachable was not taken";
  char got[16];
  EXPECT_LT(::recv(app, got, sizeof got, 0), 0);
  EXPECT_EQ(errno, ECONNREFUSED) << std::strerror(errno);
  ::close(app);
  ::close(tun);
}

} // namespace

// A target's IPv6 datagram on Windows.
TEST(kernel, an_ipv6_datagram_answered_by_the_built_unreachable_is_refused) {
  REQUIRE_ROOT_AND("ip");
  auto remote = fd78_2(3478);
  expect_datagram_refused("unr6", AF_INET6,
                          reinterpret_cast<sockaddr*>(&remote), sizeof remote,
                          build_icmp6_port_unreachable);
}

// A blocked program's IPv4 datagram on Windows.
TEST(kernel, an_ipv4_datagram_answered_by_the_built_unreachable_is_refused) {
  REQUIRE_ROOT_AND("ip");
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(3478);
  ::inet_pton(AF_INET, "10.78.0.2", &remote.sin_addr);
  expect_datagram_refused("unr4", AF_INET, reinterpret_cast<sockaddr*>(&remote),
                          sizeof remote, build_icmp_port_unreachable);
}

TEST(kernel, iptables_rules_install_replace_check_and_remove) {
  REQUIRE_ROOT_AND("iptables-restore");
  test::netns ns{"rules"};
  capture::linux_params p;
  p.chain = "DROVER";
  p.target_mark = 0x44530007;
  p.queue_number = 7;
  p.listener = {nat_shape::loopback, 15001};
  p.injected_mark = 0x44;
  p.skip.proxy = *parse_ipv4("203.0.113.9");
  p.skip.extra = {*parse_ipv4_cidr("192.168.0.0/16")};

  auto restore = [&](const std::string& tool, const std::string& text) {
    auto file = "/tmp/drover-rules-" + std::to_string(::getpid());
    std::ofstream{file} << text;
    int rc = sh(ns.exec(tool + " --noflush < " + file));
    std::remove(file.c_str());
    return rc;
  };
  auto saved = [&](const std::string& tool) {
    return sh_output(ns.exec(tool + "-save -t raw 2>/dev/null"));
  };

  auto install = capture::iptables_install(p, saved("iptables"));
  ASSERT_EQ(restore("iptables-restore", install), 0);
  auto v4 = saved("iptables");
  EXPECT_TRUE(capture::save_output_has_chain(v4, "DROVER")) << v4;
  EXPECT_NE(v4.find("-A OUTPUT -j DROVER"), std::string::npos) << v4;
  EXPECT_NE(v4.find("NFQUEUE --queue-num 7"), std::string::npos) << v4;
  // Every proxy's target mark: the low bits are the proxy's index.
  EXPECT_NE(v4.find("--mark 0x44530000/0xfffffff8"), std::string::npos) << v4;
  // The watchdog's check against what the kernel really holds.
  EXPECT_TRUE(capture::rules_intact(v4, install, "DROVER")) << v4;
  ASSERT_EQ(restore("ip6tables-restore",
                    capture::ip6tables_install(p, saved("ip6tables"))),
            0);
  EXPECT_TRUE(capture::save_output_has_chain(saved("ip6tables"), "DROVER"));

  // A second session (new listener, new proxy) replaces the rules in one
  // transaction: still one jump, the new port, not the old one.
  auto q = p;
  q.listener.port = 15002;
  q.skip.proxy = *parse_ipv4("203.0.113.10");
  auto replaced = capture::iptables_install(q, v4);
  ASSERT_EQ(restore("iptables-restore", replaced), 0);
  v4 = saved("iptables");
  EXPECT_EQ(count_of(v4, "-A OUTPUT -j DROVER"), 1) << v4;
  EXPECT_NE(v4.find("--sport 15002"), std::string::npos) << v4;
  EXPECT_EQ(v4.find("--sport 15001"), std::string::npos) << v4;
  EXPECT_TRUE(capture::rules_intact(v4, replaced, "DROVER")) << v4;

  // A firewall reload flushes the table: the check sees it, and an install
  // over the flushed table brings everything back.
  ASSERT_EQ(sh(ns.exec("iptables -t raw -F")), 0);
  v4 = saved("iptables");
  EXPECT_FALSE(capture::rules_intact(v4, replaced, "DROVER")) << v4;
  ASSERT_EQ(restore("iptables-restore", capture::iptables_install(q, v4)), 0);
  v4 = saved("iptables");
  EXPECT_TRUE(capture::rules_intact(v4, replaced, "DROVER")) << v4;

  for (auto tool : {"iptables", "ip6tables"})
    ASSERT_EQ(restore(std::string{tool} + "-restore",
                      capture::iptables_remove("DROVER", saved(tool))),
              0);
  v4 = saved("iptables");
  EXPECT_FALSE(capture::save_output_has_chain(v4, "DROVER")) << v4;
  EXPECT_EQ(v4.find("DROVER"), std::string::npos) << v4;
  EXPECT_EQ(saved("ip6tables").find("DROVER"), std::string::npos);

  // A transaction that fails half-way changes nothing.
  auto broken = capture::iptables_install(p, v4);
  broken.insert(broken.find("COMMIT"), "-A DROVER -p nonsense -j RETURN\n");
  EXPECT_NE(restore("iptables-restore", broken), 0);
  EXPECT_EQ(saved("iptables").find("DROVER"), std::string::npos);
}
