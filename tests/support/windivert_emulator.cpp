// The emulated WinDivert driver's packet side, for drover.exe under wine
// in a test's network namespace (tests/windows/emulated_test.sh). The
// kernel queues every outbound IPv4 packet of the namespace to NFQUEUE
// (the test's rule; WinDivert sees every packet a host sends, loopback
// ones included, only as outbound); this daemon hands each to the
// WinDivert.dll emulator in drover.exe (tests/windows/fake_windivert.cpp,
// emulator mode) over a loopback TCP connection, with what the driver's
// WINDIVERT_ADDRESS would carry (loopback, the interface). The DLL
// evaluates its open handles by priority with the filter checker and
// answers: taken (the packet is gone: dropped here) or passed (accepted,
// as the driver lets through what no handle's filter takes). What a
// handle sends comes back to be injected as the driver injects it:
// outbound through a raw socket whose mark the queue rule skips (the
// driver never diverts a packet again to the handle that sent it), inbound
// by writing it to a TUN device so that it arrives as received. Checksums
// whose address flag is 0 are computed first, as the driver does.
//
// With no DLL connected every packet passes (no handle is open).
//
// usage: windivert_emulator QUEUE BRIDGE_PORT TUN_NAME MARK
// Prints "ready" once the queue, the injection paths and the bridge's
// listener are in place.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "net/packet.hpp"
#include "tests/support/windivert_bridge.hpp"

namespace {

namespace bridge = drover::test::windivert_bridge;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "windivert emulator: %s: %s\n", what,
               std::strerror(errno));
  std::exit(1);
}

volatile sig_atomic_t stopping = 0;
bool tracing = false; // WINDIVERT_EMULATOR_TRACE=1: each packet's fate

void trace(const char* what, const uint8_t* p, size_t length) {
  drover::net::packet_info i;
  if (!tracing
      || drover::net::parse(p, length, i) != drover::net::parse_error::none)
    return;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  using drover::net::to_string;
  std::fprintf(stderr, "%s %s %s:%u > %s:%u flags %02x len %zu at %ld.%06ld\n",
               what,
               i.is_tcp()   ? "tcp"
               : i.is_udp() ? "udp"
                            : "ip",
               to_string(i.src.ip).c_str(), i.src.port,
               to_string(i.dst.ip).c_str(), i.dst.port, i.tcp_flags, length,
               static_cast<long>(now.tv_sec), now.tv_nsec / 1000);
}

struct queue {
  mnl_socket* nl = nullptr;
  uint16_t number = 0;
  unsigned portid = 0;

  void configure(nlmsghdr* nlh) {
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
      die("configuring the queue");
  }

  void open(uint16_t n) {
    number = n;
    nl = mnl_socket_open(NETLINK_NETFILTER);
    if (nl == nullptr || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
      die("netlink");
    portid = mnl_socket_get_portid(nl);
    char buf[MNL_SOCKET_BUFFER_SIZE];
    auto* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, number);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
    configure(nlh);
    // No NFQA_CFG_F_GSO: the kernel segments super-packets and completes
    // checksums left to the card before the copy, so what the DLL sees is
    // what would leave on the wire (WinDivert's packets are such too).
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, number);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
    configure(nlh);
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, number);
    nfq_nlmsg_cfg_put_qmaxlen(nlh, 4096); // the driver's default queue
    configure(nlh);
    int size = 8 << 20;
    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size,
               sizeof size);
  }

  void verdict(uint32_t id, int what) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    auto* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, number);
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), what);
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
      std::fprintf(stderr, "windivert emulator: verdict %u: %s\n", id,
                   std::strerror(errno));
  }
};

struct emulator {
  queue q;
  int raw = -1;      // outbound injection
  int raw6 = -1;     // the same for IPv6 (IPPROTO_RAW: headers included)
  int tun = -1;      // inbound injection
  int listener = -1; // the DLL connects here
  int client = -1;   // the connected DLL
  std::string to_client;
  size_t sent_to_client = 0;
  std::vector<uint8_t> from_client;
  std::vector<uint32_t> pending; // packet IDs the DLL has not answered
  unsigned loopback_index = 0;
  unsigned long injected = 0, passed = 0, taken = 0, refused = 0;

  void open_injection(const char* tun_name, uint32_t mark) {
    raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (raw < 0)
      die("raw socket");
    if (setsockopt(raw, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0)
      die("SO_MARK");
    // WinDivert injects below the sockets: a broadcast a handle sends goes
    // out as any packet (the kernel asks a socket for SO_BROADCAST).
    int one = 1;
    if (setsockopt(raw, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0)
      die("SO_BROADCAST");
    raw6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (raw6 < 0)
      die("IPv6 raw socket");
    if (setsockopt(raw6, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0)
      die("SO_MARK");
    tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (tun < 0)
      die("/dev/net/tun");
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", tun_name);
    if (ioctl(tun, TUNSETIFF, &ifr) != 0)
      die("TUNSETIFF");
    ifreq lo{};
    std::snprintf(lo.ifr_name, IFNAMSIZ, "lo");
    if (ioctl(raw, SIOCGIFINDEX, &lo) != 0)
      die("lo's index");
    loopback_index = static_cast<unsigned>(lo.ifr_ifindex);
  }

  void listen_on(uint16_t port) {
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0
        || listen(listener, 4) != 0)
      die("the bridge's listener");
  }

  // The driver re-injects what a closing handle still held: what the DLL
  // never answered goes on.
  void drop_client() {
    if (client < 0)
      return;
    close(client);
    client = -1;
    for (auto id : pending)
      q.verdict(id, NF_ACCEPT);
    passed += pending.size();
    pending.clear();
    to_client.clear();
    sent_to_client = 0;
    from_client.clear();
  }

  void accept_client() {
    int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0)
      return;
    drop_client(); // a new engine's DLL: the old one's handles are gone
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    client = c;
  }

  // One queued packet: to the DLL, or on its way when none is there.
  int on_queued(const nlmsghdr* nlh) {
    nlattr* attr[NFQA_MAX + 1] = {};
    if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == nullptr)
      return MNL_CB_OK;
    auto* hdr = static_cast<nfqnl_msg_packet_hdr*>(
        mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
    uint32_t id = ntohl(hdr->packet_id);
    if (client < 0 || attr[NFQA_PAYLOAD] == nullptr) {
      q.verdict(id, NF_ACCEPT);
      passed++;
      return MNL_CB_OK;
    }
    uint32_t out = attr[NFQA_IFINDEX_OUTDEV] != nullptr
                       ? ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV]))
                       : 0;
    bridge::packet_header h;
    h.id = id;
    // Windows: any packet from this host to itself is loopback.
    h.loopback = out == loopback_index ? 1 : 0;
    h.if_idx = out;
    bridge::append(to_client, bridge::kind_packet, h,
                   mnl_attr_get_payload(attr[NFQA_PAYLOAD]),
                   mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]));
    pending.push_back(id);
    trace(("queued #" + std::to_string(id)).c_str(),
          static_cast<const uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD])),
          mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]));
    return MNL_CB_OK;
  }

  static int on_queued_cb(const nlmsghdr* nlh, void* self) {
    return static_cast<emulator*>(self)->on_queued(nlh);
  }

  void read_queue() {
    std::vector<char> buf(0xffff + (MNL_SOCKET_BUFFER_SIZE / 2));
    for (int i = 0; i < 64; ++i) { // a bounded batch per wake
      auto n
          = recv(mnl_socket_get_fd(q.nl), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n <= 0) {
        if (n < 0 && errno == ENOBUFS)
          std::fprintf(stderr, "windivert emulator: the queue overran\n");
        return;
      }
      mnl_cb_run(buf.data(), static_cast<size_t>(n), 0, q.portid, on_queued_cb,
                 this);
    }
  }

  void answered(uint32_t id, bool was_taken) {
    for (size_t i = 0; i < pending.size(); ++i)
      if (pending[i] == id) {
        pending[i] = pending.back();
        pending.pop_back();
        break;
      }
    q.verdict(id, was_taken ? NF_DROP : NF_ACCEPT);
    (was_taken ? taken : passed)++;
    if (tracing)
      std::fprintf(stderr, "%s #%u\n", was_taken ? "taken" : "passed", id);
  }

  void inject(const bridge::inject_header& h, uint8_t* p, size_t length) {
    drover::net::packet_info info;
    if (drover::net::parse(p, length, info) != drover::net::parse_error::none) {
      std::fprintf(stderr,
                   "windivert emulator: a handle sent %zu bytes that are "
                   "no IP packet\n",
                   length);
      refused++;
      return;
    }
    // The driver computes what the address does not say is right.
    if ((h.checksums & bridge::all_checksums) != bridge::all_checksums) {
      if (info.ip_version == 6)
        drover::net::set_ipv6_l4_checksum(p, info.total_length);
      else
        drover::net::recompute_checksums(p, info);
    }
    ssize_t n;
    if (h.outbound && info.ip_version == 6) {
      sockaddr_in6 to{};
      to.sin6_family = AF_INET6;
      std::memcpy(&to.sin6_addr, p + 24, 16);
      n = sendto(raw6, p, length, 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof to);
    } else if (h.outbound) {
      sockaddr_in to{};
      to.sin_family = AF_INET;
      std::memcpy(&to.sin_addr, p + 16, 4);
      n = sendto(raw, p, length, 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof to);
    } else {
      n = write(tun, p, length);
    }
    if (n != static_cast<ssize_t>(length)) {
      std::fprintf(stderr, "windivert emulator: injecting %s: %s\n",
                   h.outbound ? "outbound" : "inbound", std::strerror(errno));
      refused++;
      return;
    }
    injected++;
    trace(h.outbound ? "inject out" : "inject in", p, length);
  }

  void read_client() {
    uint8_t buf[1 << 16];
    auto n = recv(client, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      drop_client();
      return;
    }
    if (n < 0)
      return;
    from_client.insert(from_client.end(), buf, buf + n);
    size_t at = 0;
    bridge::message m;
    while (bridge::next(from_client.data() + at, from_client.size() - at, m)) {
      if (m.kind == bridge::kind_verdict
          && m.body_length >= sizeof(uint32_t) + 1) {
        uint32_t id;
        std::memcpy(&id, m.body, sizeof id);
        answered(id, m.body[sizeof id] != 0);
      } else if (m.kind == bridge::kind_inject
                 && m.body_length > sizeof(bridge::inject_header)) {
        bridge::inject_header h;
        std::memcpy(&h, m.body, sizeof h);
        inject(h, m.body + sizeof h, m.body_length - sizeof h);
      }
      at += m.total;
    }
    from_client.erase(from_client.begin(),
                      from_client.begin() + static_cast<long>(at));
    if (from_client.size() > bridge::max_message * 2)
      drop_client(); // not a message stream
  }

  void write_client() {
    while (sent_to_client < to_client.size()) {
      auto n = send(client, to_client.data() + sent_to_client,
                    to_client.size() - sent_to_client,
                    MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EINTR)
          drop_client();
        return;
      }
      sent_to_client += static_cast<size_t>(n);
    }
    to_client.clear();
    sent_to_client = 0;
  }

  void run() {
    while (!stopping) {
      // Packets wait in the kernel's queue while the DLL is behind.
      bool room = to_client.size() < (4u << 20);
      pollfd fds[3] = {
          {listener, POLLIN, 0},
          {room ? mnl_socket_get_fd(q.nl) : -1, POLLIN, 0},
          {client,
           static_cast<short>(POLLIN | (to_client.empty() ? 0 : POLLOUT)), 0}};
      if (poll(fds, client >= 0 ? 3 : 2, 1000) < 0) {
        if (errno == EINTR)
          continue;
        die("poll");
      }
      if (fds[0].revents & POLLIN)
        accept_client();
      if (fds[1].revents & POLLIN)
        read_queue();
      if (client >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)))
        read_client();
      if (client >= 0 && !to_client.empty())
        write_client();
    }
    std::fprintf(stderr,
                 "windivert emulator: %lu taken, %lu passed, %lu injected, "
                 "%lu refused\n",
                 taken, passed, injected, refused);
  }
};

} // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr,
                 "usage: windivert_emulator QUEUE BRIDGE_PORT TUN_NAME MARK\n");
    return 2;
  }
  std::signal(SIGTERM, [](int) { stopping = 1; });
  std::signal(SIGINT, [](int) { stopping = 1; });
  std::signal(SIGPIPE, SIG_IGN);
  tracing = std::getenv("WINDIVERT_EMULATOR_TRACE") != nullptr;
  emulator e;
  e.open_injection(argv[3],
                   static_cast<uint32_t>(std::strtoul(argv[4], nullptr, 0)));
  e.q.open(static_cast<uint16_t>(std::atoi(argv[1])));
  e.listen_on(static_cast<uint16_t>(std::atoi(argv[2])));
  std::printf("ready\n");
  std::fflush(stdout);
  e.run();
  return 0;
}
