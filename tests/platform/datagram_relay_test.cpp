// The UDP relay on the real kernel (tests/platform/relay_lab.hpp): TPROXY
// sends a target's datagrams to the relay's intake, dante relays them to
// the test peer's UDP echo and back.

#include "tests/platform/relay_lab.hpp"

using namespace drover;
using namespace drover::test;

namespace {

constexpr uint32_t target_mark = 0x1230;
constexpr uint32_t udp_mark = 0x44520008;

class datagram_relay_test : public stream_relay_test {
protected:
  void SetUp() override {
    stream_relay_test::SetUp();
    if (IsSkipped() || HasFatalFailure())
      return;
    udp_echo = lab->server(DROVER_PEER, "udp-echo", "7");
    intake_at = at("127.0.0.1", listen_at.port);
    std::string error;
    intake = inside(lab->app, [&] {
      return platform::open_datagram_intake(intake_at, error);
    });
    ASSERT_NE(intake, platform::invalid_socket) << error;
    EXPECT_LT(intake_at.port, 1024);
    // What the capture installs, for the server's address and sockets
    // with the test's mark (the kernel program marks targets' sockets).
    auto mark = std::to_string(udp_mark);
    for (auto& command : std::vector<std::string>{
             "iptables -t mangle -A OUTPUT -p udp -d " + proxy_lab::server_ip
                 + " -m mark --mark " + std::to_string(target_mark)
                 + " -j MARK --set-mark " + mark,
             "ip rule add fwmark " + mark + " lookup 17490",
             "ip route add local 0.0.0.0/0 dev lo table 17490",
             "iptables -t mangle -A PREROUTING -i lo -p udp -m mark --mark "
                 + mark + " -j TPROXY --on-port "
                 + std::to_string(intake_at.port)
                 + " --on-ip 127.0.0.1 --tproxy-mark " + mark})
      ASSERT_EQ(sh(lab->app.exec(command)), 0) << command;
  }

  // A target's UDP socket (marked as the kernel program marks them).
  int target_socket() {
    return inside(lab->app, [&] {
      int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      uint32_t m = target_mark;
      ::setsockopt(fd, SOL_SOCKET, SO_MARK, &m, sizeof m);
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      return fd;
    });
  }

  // Sends `text` to the echo server; the reply and where it came from.
  std::pair<std::string, net::endpoint> exchange(int fd,
                                                 const std::string& text) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(7);
    ::inet_pton(AF_INET, proxy_lab::server_ip.c_str(), &to.sin_addr);
    ::sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&to),
             sizeof to);
    char buf[2048];
    sockaddr_in from{};
    socklen_t len = sizeof from;
    auto n = ::recvfrom(fd, buf, sizeof buf, 0,
                        reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0)
      return {};
    return {
        std::string(buf, static_cast<size_t>(n)),
        {net::ipv4_address{ntohl(from.sin_addr.s_addr)}, ntohs(from.sin_port)}};
  }

  std::unique_ptr<child> udp_echo;
  net::endpoint intake_at;
};

} // namespace

TEST_F(datagram_relay_test, a_datagram_goes_through_the_proxy_and_back) {
  auto relay = start(platform::relay_mode::proxy, dante());
  int fd = target_socket();
  // The server sees the proxy; the application sees its server.
  auto [reply, from] = exchange(fd, "ping");
  EXPECT_EQ(reply.rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u) << reply;
  EXPECT_NE(reply.find("ping"), std::string::npos) << reply;
  EXPECT_EQ(from, at(proxy_lab::server_ip, 7));
  auto opened = events.wait_for(kind::opened);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->protocol, net::stream_news::udp);
  EXPECT_EQ(opened->remote, at(proxy_lab::server_ip, 7));
  EXPECT_EQ(opened->app.ip, at(proxy_lab::app_ip, 0).ip);
  // A second datagram reuses the association and the flow.
  EXPECT_NE(exchange(fd, "again").first.find("again"), std::string::npos);
  auto progress = events.wait_for(kind::progress);
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->id, opened->id);
  EXPECT_EQ(progress->out, 9u);
  EXPECT_GT(progress->in, 9u);
  // A connected socket (the voice client's kind) too.
  int connected = target_socket();
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(7);
  ::inet_pton(AF_INET, proxy_lab::server_ip.c_str(), &to.sin_addr);
  ASSERT_EQ(::connect(connected, reinterpret_cast<sockaddr*>(&to), sizeof to),
            0);
  EXPECT_NE(exchange(connected, "voice").first.find("voice"),
            std::string::npos);
  EXPECT_TRUE(events.wait_for(kind::opened, 2));
  EXPECT_TRUE(events.failures.empty());
  ::close(fd);
  ::close(connected);
}

TEST_F(datagram_relay_test, a_pipelined_association_carries_datagrams) {
  auto relay = start(platform::relay_mode::proxy, dante());
  relay->set_pipelining(true);
  int fd = target_socket();
  auto [reply, from] = exchange(fd, "pipelined");
  EXPECT_NE(reply.find("pipelined"), std::string::npos) << reply;
  EXPECT_EQ(from, at(proxy_lab::server_ip, 7));
  EXPECT_TRUE(events.failures.empty());
  ::close(fd);
}

TEST_F(datagram_relay_test, while_not_proxying_datagrams_are_dropped) {
  auto relay = start(platform::relay_mode::refuse, dante());
  int fd = target_socket();
  timeval tv{0, 300000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(exchange(fd, "ping").first, "") << "never direct, never relayed";
  auto dropped = events.wait_for(kind::dropped);
  ASSERT_TRUE(dropped);
  EXPECT_GE(dropped->out, 1u);
  std::string error;
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::proxy,
                              platform::relay_mode::proxy, error))
      << error;
  tv = {5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_NE(exchange(fd, "now").first.find("now"), std::string::npos);
  ::close(fd);
}

// A TCP-only proxy: the relay carries TCP through it and, as the policy
// says, drops the targets' datagrams or lets them out direct.
TEST_F(datagram_relay_test, udp_has_a_mode_of_its_own) {
  auto relay = start(platform::relay_mode::proxy, dante());
  std::string error;
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::proxy,
                              platform::relay_mode::refuse, error))
      << error;
  int fd = target_socket();
  timeval tv{0, 300000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(exchange(fd, "blocked").first, "") << "never direct, never relayed";
  EXPECT_TRUE(events.wait_for(kind::dropped));
  int tcp = client();
  ASSERT_GE(tcp, 0);
  EXPECT_EQ(read_line(tcp).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u)
      << "TCP still goes through the proxy";
  ::close(tcp);
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::proxy,
                              platform::relay_mode::direct, error))
      << error;
  tv = {5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto [reply, from] = exchange(fd, "direct");
  EXPECT_EQ(reply.rfind("peer " + proxy_lab::app_ip + ":", 0), 0u)
      << "the server sees the application itself: " << reply;
  EXPECT_EQ(from, at(proxy_lab::server_ip, 7));
  EXPECT_TRUE(events.failures.empty());
  ::close(fd);
}

// A TCP-only proxy (TCP proxied, UDP refused): a connected socket (a
// resolver's, QUIC's) learns at once, a port unreachable from its remote
// failing its next receive as a closed port's would, instead of its own
// timeout. While the proxy cannot be used at all (for moments: Starting,
// Reconnecting), nothing answers, so a voice client that keeps sending
// resumes when the proxy is back.
TEST_F(datagram_relay_test,
       a_tcp_only_proxys_refusal_fails_a_connected_socket_at_once) {
  auto relay = start(platform::relay_mode::proxy, dante());
  std::string error;
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::proxy,
                              platform::relay_mode::refuse, error))
      << error;
  auto connected = [&] {
    int fd = target_socket();
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(7);
    ::inet_pton(AF_INET, proxy_lab::server_ip.c_str(), &to.sin_addr);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    return fd;
  };
  int fd = connected(); // its receive waits up to 5 s
  auto sent = std::chrono::steady_clock::now();
  ASSERT_EQ(::send(fd, "refused", 7, 0), 7);
  char buf[64];
  EXPECT_EQ(::recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 2s) << "at once";
  EXPECT_TRUE(events.wait_for(kind::dropped)) << "counted as dropped";
  ::close(fd);
  // Not proxying at all: dropped without an answer.
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::refuse,
                              platform::relay_mode::refuse, error))
      << error;
  fd = connected();
  timeval tv{0, 500000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(::send(fd, "waiting", 7, 0), 7);
  EXPECT_EQ(::recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EAGAIN) << "no answer: its own timeout";
  ::close(fd);
  EXPECT_TRUE(events.failures.empty());
}

TEST_F(datagram_relay_test, a_local_program_cannot_use_the_intake_as_a_relay) {
  auto relay = start(platform::relay_mode::proxy, dante());
  // An unmarked socket sends to the intake itself: nothing goes anywhere.
  int fd = inside(lab->app, [&] {
    return ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  });
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(intake_at.port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  std::string text = "let me in";
  ::sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&to),
           sizeof to);
  auto dropped = events.wait_for(kind::dropped);
  ASSERT_TRUE(dropped);
  EXPECT_EQ(dropped->out, 1u);
  // Reported with the drop (same batch or before): no flow for it.
  std::lock_guard<std::mutex> lock{events.mutex};
  for (auto& n : events.all)
    EXPECT_NE(n.what, kind::opened) << "no association for it";
  ::close(fd);
}

TEST_F(datagram_relay_test, the_engine_ends_a_flow_and_its_association) {
  auto relay = start(platform::relay_mode::proxy, dante());
  int fd = target_socket();
  EXPECT_NE(exchange(fd, "one").first.find("one"), std::string::npos);
  auto opened = events.wait_for(kind::opened);
  ASSERT_TRUE(opened);
  relay->close(opened->id); // expired in the table, say
  // The next datagram is a new flow on a new association, and still
  // arrives.
  EXPECT_NE(exchange(fd, "two").first.find("two"), std::string::npos);
  auto again = events.wait_for(kind::opened, 2);
  ASSERT_TRUE(again);
  EXPECT_NE(again->id, opened->id);
  relay->close_all();
  EXPECT_NE(exchange(fd, "three").first.find("three"), std::string::npos);
  EXPECT_TRUE(events.wait_for(kind::opened, 3));
  ::close(fd);
}

TEST_F(datagram_relay_test, a_proxy_that_is_not_there_is_reported) {
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1081));
  int fd = target_socket();
  timeval tv{0, 300000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(exchange(fd, "ping").first, "");
  ASSERT_TRUE(events.wait_for_failure());
  EXPECT_NE(events.failures.front().find("cannot connect to the proxy"),
            std::string::npos)
      << events.failures.front();
  // What the target sends meanwhile waits, bounded (256 datagrams): the
  // rest is dropped, not held.
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(7);
  ::inet_pton(AF_INET, proxy_lab::server_ip.c_str(), &to.sin_addr);
  std::string payload(1000, 'v');
  for (int i = 0; i < 300; ++i)
    ::sendto(fd, payload.data(), payload.size(), 0,
             reinterpret_cast<sockaddr*>(&to), sizeof to);
  EXPECT_TRUE(events.wait_for_dropped(300 + 1 - 256));
  ::close(fd);
}
