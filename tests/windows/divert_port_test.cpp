// The Windows packet path end to end, under wine: the real open_capture
// (LoadLibrary of WinDivert.dll from this program's folder, both handles,
// the queue parameters), the real divert-reader and flow-manager actors,
// against the test double of WinDivert.dll (tests/windows/
// fake_windivert.cpp), which diverts the packets and socket events this
// test scripts and records what Drover sends back.

#include <cctype>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/divert_reader.hpp"
#include "actors/flow_manager.hpp"
#include "actors/platform/capture.hpp"
#include "actors/platform/process.hpp"
#include "actors/platform/windivert_abi.hpp"
#include "messages/atoms.hpp"
#include "net/attribution.hpp"
#include "net/bytes.hpp"
#include "net/packet.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/ipv6_segment.hpp"
#include "tests/support/pcap.hpp"
#include "tests/windows/windivert_addresses.hpp"

using namespace drover;
using namespace std::chrono_literals;
namespace wd = drover::platform::windivert;
using test::outbound_address;
using test::socket_event;

namespace {

constexpr uint16_t listener_port = 15001;
constexpr uint32_t target_pid = 4242;
constexpr uint32_t other_pid = 777;

// The double's test exports, looked up in the module the engine loaded.
struct fake_driver {
  using deliver_fn
      = BOOL (*)(wd::layer, const void*, UINT, const wd::address*, UINT);
  using take_fn = UINT (*)(void*, UINT, wd::address*);
  using calls_fn = long (*)(wd::layer);
  using info_fn = BOOL (*)(wd::layer, char*, UINT, int16_t*, UINT64*, UINT64*);
  using count_fn = int (*)();
  using sends_fn = long (*)();
  using shut_fn = BOOL (*)(wd::layer);

  deliver_fn deliver = nullptr;
  take_fn take = nullptr;
  calls_fn recv_calls = nullptr;
  info_fn info = nullptr;
  count_fn open_handles = nullptr;
  sends_fn send_calls = nullptr;
  shut_fn is_shut = nullptr;

  fake_driver() {
    auto m = GetModuleHandleW(L"WinDivert.dll");
    if (m == nullptr)
      return;
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
          reinterpret_cast<void*>(GetProcAddress(m, name)));
    };
    get(deliver, "DroverFakeDeliver");
    get(take, "DroverFakeTakeSent");
    get(recv_calls, "DroverFakeRecvCalls");
    get(info, "DroverFakeHandleInfo");
    get(open_handles, "DroverFakeOpenHandles");
    get(send_calls, "DroverFakeSendCalls");
    get(is_shut, "DroverFakeIsShut");
  }
  bool ok() const { return deliver && take && recv_calls && info; }
};

struct sent_packet {
  std::vector<uint8_t> bytes;
  wd::address addr{};
  net::packet_info info;
};

// Bounded: what the engine does happens on its own threads, and the test
// double has no event for it.
bool wait_until(const std::function<bool()>& done) {
  return test::eventually(done, 10s, 1ms);
}

std::vector<uint8_t> with_source_port(std::vector<uint8_t> p, uint16_t port) {
  net::packet_info info;
  net::parse(p.data(), p.size(), info);
  net::store16(p.data() + info.l4_offset, port);
  return p;
}

class windows_divert : public ::testing::Test {
protected:
  void SetUp() override {
    SetEnvironmentVariableA("DROVER_FAKE_WINDIVERT_OPEN_ERROR", nullptr);
    add_message_types(cfg);
    // The flow-manager's UDP associations are brokers, as in the engine.
    cfg.load<caf::io::middleman>();
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  void TearDown() override {
    stop_engine();
    sys.reset();
  }

  void start_engine(std::chrono::milliseconds owner_wait = 10s) {
    if (!guard)
      guard = platform::open_guard({}).guard;
    ASSERT_TRUE(guard);
    platform::capture_options opts;
    opts.guard = guard;
    opts.listener = {net::nat_shape::loopback, listener_port};
    opts.skip.proxy = *net::parse_ipv4("10.99.0.1");
    opts.owner_wait = owner_wait;
    auto r = platform::open_capture(opts);
    ASSERT_TRUE(r.session) << r.error;
    session = std::move(r.session);
    driver = fake_driver{}; // the module is loaded now
    ASSERT_TRUE(driver.ok()) << "the test double's exports are missing";
    flow_manager_config fc;
    fc.listener = opts.listener;
    fc.table.max_flows = 64;
    fm = sys->spawn(flow_manager, session.get(), fc);
    reader = sys->spawn(divert_reader, &session->port(), fm);
    set_reader(fm, reader);
    ASSERT_TRUE(
        wait_until([&] { return driver.recv_calls(wd::layer_network) >= 1; }));
  }

  void stop_engine() {
    if (!session)
      return;
    caf::scoped_actor self{*sys};
    for (auto a : {caf::actor_cast<caf::actor>(reader),
                   caf::actor_cast<caf::actor>(fm)}) {
      self->monitor(a);
      self->send_exit(a, caf::exit_reason::user_shutdown);
      self->receive([](const caf::down_msg&) {});
    }
    reader = nullptr;
    fm = nullptr;
    session.reset();
  }

  // Diverts one packet; returns once the port has taken it and is waiting
  // for the next (its receive was started again).
  void divert(const std::vector<uint8_t>& p, const wd::address& a) {
    auto before = driver.recv_calls(wd::layer_network);
    ASSERT_TRUE(driver.deliver(wd::layer_network, p.data(),
                               static_cast<UINT>(p.size()), &a, 1));
    ASSERT_TRUE(wait_until(
        [&] { return driver.recv_calls(wd::layer_network) > before; }));
  }

  void socket(const wd::address& a) {
    auto before = driver.recv_calls(wd::layer_socket);
    ASSERT_TRUE(driver.deliver(wd::layer_socket, nullptr, 0, &a, 1));
    ASSERT_TRUE(wait_until(
        [&] { return driver.recv_calls(wd::layer_socket) > before; }));
  }

  std::optional<sent_packet> take() {
    sent_packet s;
    s.bytes.resize(70000);
    auto n = driver.take(s.bytes.data(), static_cast<UINT>(s.bytes.size()),
                         &s.addr);
    if (n == 0)
      return std::nullopt;
    s.bytes.resize(n);
    EXPECT_EQ(net::parse(s.bytes.data(), n, s.info), net::parse_error::none);
    return s;
  }

  // The flow-manager's flows now.
  std::vector<flow_descriptor> flows_now() {
    caf::scoped_actor self{*sys};
    std::vector<flow_descriptor> flows;
    self->request(fm, std::chrono::seconds{5}, atom::get_v, atom::flows_v)
        .receive([&](std::vector<flow_descriptor>& f) { flows = f; },
                 [&](const caf::error& e) { ADD_FAILURE() << to_string(e); });
    return flows;
  }

  // What the port decided, as the session logs it at its end.
  bool summary_says(const std::string& what) const {
    return session->summary().find(what) != std::string::npos;
  }

  sent_packet next_sent() {
    std::optional<sent_packet> s;
    EXPECT_TRUE(wait_until([&] { return (s = take()).has_value(); }))
        << "nothing was sent";
    return s.value_or(sent_packet{});
  }

  static std::vector<uint8_t> syn() {
    return test::fixtures("fixtures-complete.pcap")[0];
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<platform::capture_session> session; // lent to the parts
  std::shared_ptr<platform::capture_guard> guard;     // kept over restarts
  flow_manager_actor fm;
  divert_reader_actor reader;
  fake_driver driver;
};

net::packet_info parsed(const std::vector<uint8_t>& p) {
  net::packet_info info;
  net::parse(p.data(), p.size(), info);
  return info;
}

} // namespace

TEST_F(windows_divert, opens_both_layers_with_the_queue_at_its_maximum) {
  start_engine();
  char filter[4096];
  int16_t priority = 0;
  UINT64 flags = 0, params[3] = {};
  ASSERT_TRUE(driver.info(wd::layer_network, filter, sizeof filter, &priority,
                          &flags, params));
  EXPECT_NE(std::string{filter}.find("tcp.SrcPort == 15001"), std::string::npos)
      << filter;
  EXPECT_NE(std::string{filter}.find("ip.DstAddr != 10.99.0.1"),
            std::string::npos)
      << filter;
  EXPECT_EQ(flags, 0u);
  EXPECT_EQ(params[wd::param_queue_length], wd::queue_length_max);
  EXPECT_EQ(params[wd::param_queue_time], wd::queue_time_ms)
      << "2 s: a stalled engine holds the machine's traffic up no longer";
  EXPECT_EQ(params[wd::param_queue_size], wd::queue_size_max);
  int16_t socket_priority = 0;
  ASSERT_TRUE(driver.info(wd::layer_socket, filter, sizeof filter,
                          &socket_priority, &flags, params));
  EXPECT_EQ(flags, wd::flag_sniff | wd::flag_recv_only);
  EXPECT_NE(std::string{filter}.find("event == CONNECT"), std::string::npos);
  EXPECT_EQ(socket_priority, priority);
}

TEST_F(windows_divert, a_targets_syn_is_redirected_with_its_return_path) {
  start_engine();
  auto app_syn = syn();
  auto app = parsed(app_syn);
  std::string error;
  ASSERT_TRUE(session->add_target(target_pid, error));
  socket(socket_event(wd::event_socket_connect, target_pid, app.src.port));
  divert(app_syn, outbound_address());

  auto to_listener = next_sent();
  EXPECT_EQ(to_listener.info.dst,
            (net::endpoint{net::ipv4_address{0x7f000001}, listener_port}));
  EXPECT_EQ(to_listener.info.src.ip.value >> 24, 127u);
  EXPECT_EQ(to_listener.info.src.port, app.src.port);
  EXPECT_EQ(to_listener.addr.outbound, 1u);
  // Rewritten: the driver computes the checksums.
  EXPECT_EQ(to_listener.addr.tcp_checksum, 0u);
  EXPECT_EQ(to_listener.addr.ip_checksum, 0u);
  // The flow knows its process from the SOCKET layer (the Flows view names
  // it; the OS's socket tables may not, as under wine).
  {
    auto flows = flows_now();
    ASSERT_EQ(flows.size(), 1u);
    EXPECT_EQ(flows[0].pid, target_pid);
  }

  // The listener's SYN-ACK, captured as loopback, goes back to the
  // application from the remote it dialled.
  auto reply = to_listener.bytes;
  auto ref = net::packet_ref{reply.data(), parsed(reply)};
  net::set_source(ref, to_listener.info.dst);
  net::set_destination(ref, to_listener.info.src);
  reply[ref.info.l4_offset + 13] = net::tcp_flag::syn | net::tcp_flag::ack;
  auto a = outbound_address();
  a.loopback = 1;
  a.network.if_idx = 1;
  divert(reply, a);
  auto to_app = next_sent();
  EXPECT_EQ(to_app.info.src, app.dst);
  EXPECT_EQ(to_app.info.dst, app.src);
  EXPECT_EQ(to_app.addr.outbound, 1u);
}

// A reply Drover makes up for an application (here the reset that refuses
// a connection while the proxy cannot be used; UDP replies go the same
// way) is injected inbound on the interface the application's packets
// left by.
TEST_F(windows_divert, a_made_up_reply_arrives_inbound_on_the_apps_interface) {
  start_engine();
  caf::anon_send(fm, atom::update_v,
                 flow_policy::both(new_flow_policy::refuse));
  auto app_syn = syn();
  auto app = parsed(app_syn);
  std::string error;
  ASSERT_TRUE(session->add_target(target_pid, error));
  socket(socket_event(wd::event_socket_connect, target_pid, app.src.port));
  divert(app_syn, outbound_address());
  auto rst = next_sent();
  EXPECT_EQ(rst.info.src, app.dst);
  EXPECT_EQ(rst.info.dst, app.src);
  EXPECT_NE(rst.info.tcp_flags & net::tcp_flag::rst, 0);
  EXPECT_EQ(rst.addr.outbound, 0u);
  EXPECT_EQ(rst.addr.network.if_idx, 7u);
  EXPECT_FALSE(take().has_value()) << "the SYN itself must not go out";
}

// A target's IPv6 connection: its SYN goes nowhere, and the reset that
// refuses it (so the application falls back to IPv4 at once) is injected
// inbound on the interface its IPv6 packets leave by, which is not the one
// its IPv4 packets were seen on.
TEST_F(windows_divert, a_targets_ipv6_connection_is_refused_on_its_interface) {
  start_engine();
  std::string error;
  ASSERT_TRUE(session->add_target(target_pid, error));
  auto v4 = with_source_port(syn(), 40020);
  socket(socket_event(wd::event_socket_connect, target_pid, 40020));
  divert(v4, outbound_address()); // its IPv4 address, seen on interface 7
  auto redirected = next_sent();
  EXPECT_EQ(redirected.addr.outbound, 1u);
  auto v6 = test::ipv6_tcp_segment(test::ula(1), 40021, test::ula(3), 443,
                                   net::tcp_flag::syn, 1000, 0);
  socket(socket_event(wd::event_socket_connect, target_pid, 40021));
  auto a = outbound_address();
  a.ipv6 = 1;
  a.network.if_idx = 9;
  divert(v6, a);
  auto rst = next_sent();
  ASSERT_EQ(rst.bytes.size(), 60u);
  EXPECT_EQ(rst.bytes[0] >> 4, 6);
  EXPECT_NE(rst.bytes[53] & net::tcp_flag::rst, 0);
  EXPECT_TRUE(std::equal(rst.bytes.begin() + 24, rst.bytes.begin() + 40,
                         v6.begin() + 8))
      << "to the application's own address";
  EXPECT_EQ(rst.addr.outbound, 0u);
  EXPECT_EQ(rst.addr.network.if_idx, 9u);
  EXPECT_FALSE(take().has_value()) << "the IPv6 SYN itself must not go out";
}

// WinDivert's filter finds TCP behind IPv6 extension headers; so must the
// port, or a target's segment behind a hop-by-hop header would read as
// portless and be let out.
TEST_F(windows_divert, a_targets_ipv6_behind_an_extension_header_stays_in) {
  start_engine();
  std::string error;
  ASSERT_TRUE(session->add_target(target_pid, error));
  auto v6 = test::ipv6_tcp_segment(test::ula(1), 40022, test::ula(3), 443,
                                   net::tcp_flag::syn, 1000, 0);
  std::vector<uint8_t> hop_by_hop(8, 0);
  hop_by_hop[0] = v6[6]; // then TCP
  v6[6] = 0;             // hop-by-hop options first
  v6.insert(v6.begin() + 40, hop_by_hop.begin(), hop_by_hop.end());
  net::store16(v6.data() + 4, static_cast<uint16_t>(v6.size() - 40));
  socket(socket_event(wd::event_socket_connect, target_pid, 40022));
  auto a = outbound_address();
  a.ipv6 = 1;
  divert(v6, a);
  // Another program's packet behind it, in the same order: what the port
  // lets out comes out in arrival order, so this one first means the
  // target's did not go.
  auto other = with_source_port(syn(), 40023);
  socket(socket_event(wd::event_socket_bind, other_pid, 40023));
  divert(other, outbound_address());
  auto out = next_sent();
  EXPECT_EQ(out.bytes, other) << "the target's IPv6 segment went out";
}

TEST_F(windows_divert, another_processes_packet_goes_out_unchanged) {
  start_engine();
  auto p = with_source_port(syn(), 40001);
  socket(socket_event(wd::event_socket_bind, other_pid, 40001));
  auto a = outbound_address();
  divert(p, a);
  auto out = next_sent();
  EXPECT_EQ(out.bytes, p);
  EXPECT_EQ(std::memcmp(&out.addr, &a, sizeof a), 0);
}

TEST_F(windows_divert, a_first_packet_waits_for_its_socket_event) {
  start_engine();
  std::string error;
  ASSERT_TRUE(session->add_target(target_pid, error));
  auto p = with_source_port(syn(), 40002);
  divert(p, outbound_address()); // no owner known yet
  EXPECT_FALSE(take().has_value()) << "sent before its owner was known";
  socket(socket_event(wd::event_socket_connect, target_pid, 40002));
  auto out = next_sent();
  EXPECT_EQ(out.info.dst,
            (net::endpoint{net::ipv4_address{0x7f000001}, listener_port}));
  EXPECT_EQ(out.info.src.port, 40002);
}

// Two processes' connections on one local port, to different remotes (as
// Linux's connect() hands out ports, and Windows' with
// SO_REUSE_UNICASTPORT): each packet is its own socket's, though the other
// process's CONNECT came last.
TEST_F(windows_divert, a_port_two_processes_share_keeps_each_its_own) {
  start_engine();
  std::string error;
  ASSERT_TRUE(session->add_target(target_pid, error));
  auto target_syn = with_source_port(syn(), 40030);
  auto to = parsed(target_syn).dst;
  auto other_syn = target_syn;
  net::store32(other_syn.data() + 16, 0x0a620005); // 10.98.0.5
  auto connect_to = [](uint32_t pid, net::endpoint remote) {
    auto a = socket_event(wd::event_socket_connect, pid, 40030);
    a.flow.remote_addr[0] = remote.ip.value;
    a.flow.remote_addr[1] = 0xFFFF;
    a.flow.remote_port = remote.port;
    return a;
  };
  socket(connect_to(target_pid, to));
  socket(connect_to(other_pid, {net::ipv4_address{0x0a620005}, to.port}));
  divert(target_syn, outbound_address());
  auto out = next_sent();
  EXPECT_EQ(out.info.dst,
            (net::endpoint{net::ipv4_address{0x7f000001}, listener_port}))
      << "the target's connection went out as the other process's";
  divert(other_syn, outbound_address());
  EXPECT_EQ(next_sent().bytes, other_syn);
}

// A first packet no process is known to own, even by the OS's tables (its
// socket event late or lost), may be a target's: at its port's first try
// it is dropped, so its sender sends it again (TCP after a second), by
// when its owner is normally known. A port still nobody's at a later try
// lets its packets out: another program loses a moment, not a connection.
TEST_F(windows_divert, a_packet_nobody_owns_goes_out_at_a_later_try) {
  start_engine(50ms);
  auto p = with_source_port(syn(), 40003);
  divert(p, outbound_address());
  EXPECT_TRUE(wait_until([&] { return summary_says("1 dropped at their"); }))
      << session->summary();
  EXPECT_FALSE(take().has_value()) << "the first try went out";
  // The sender's next try, after net::port_owners::unowned_retry (the time
  // is the rule here, not a wait for something to happen).
  std::this_thread::sleep_for(net::port_owners::unowned_retry + 100ms);
  divert(p, outbound_address());
  auto out = next_sent(); // after 50 ms and a look at the socket tables
  EXPECT_EQ(out.bytes, p);
  // A first packet whose socket event comes while it waits is its
  // owner's: a target's, captured.
  std::string error;
  ASSERT_TRUE(session->add_target(target_pid, error));
  auto q = with_source_port(syn(), 40004);
  divert(q, outbound_address());
  socket(socket_event(wd::event_socket_connect, target_pid, 40004));
  EXPECT_EQ(next_sent().info.dst.port, listener_port);
}

// A segment of a connection no process owns (its program closed it, and
// this session never saw who had it: a capture restart forgets) may be a
// target's retransmission: after the wait for its owner it is dropped,
// where a new connection's SYN nobody owns goes out.
TEST_F(windows_divert, a_closed_sockets_segment_nobody_owns_never_goes_out) {
  start_engine(50ms);
  auto segment = with_source_port(syn(), 40005);
  segment[parsed(segment).l4_offset + 13] = net::tcp_flag::ack | 0x08; // PSH
  divert(segment, outbound_address());
  auto later_syn = with_source_port(syn(), 40006);
  divert(later_syn, outbound_address()); // held after it, decided after it
  EXPECT_TRUE(wait_until([&] { return summary_says("1 dropped at their"); }))
      << session->summary();
  EXPECT_TRUE(summary_says("dropped: 1 segments of closed sockets"))
      << session->summary();
  EXPECT_FALSE(take().has_value()) << "the segment went out";
  // Its next ones are decided at once (the tables named nobody).
  divert(segment, outbound_address());
  auto other = with_source_port(syn(), 40007);
  socket(socket_event(wd::event_socket_bind, other_pid, 40007));
  divert(other, outbound_address());
  EXPECT_EQ(next_sent().bytes, other) << "the segment went out";
  EXPECT_FALSE(take().has_value());
}

// A target's program exits with a segment unacknowledged (or closes its
// socket while the proxy is slow): procscan forgets the process, the
// socket closes, and the kernel sends the segment again. Its connection
// went through the proxy, so the segment goes to the engine, never out
// direct; after a capture restart too (the owners are handed over), where
// no flow is left for it and the application meets a reset.
TEST_F(windows_divert,
       a_targets_socket_stays_captured_after_its_program_exits) {
  start_engine();
  auto app_syn = with_source_port(syn(), 40030);
  auto app = parsed(app_syn);
  std::string error;
  ASSERT_TRUE(session->add_target(target_pid, error));
  socket(socket_event(wd::event_socket_connect, target_pid, 40030));
  divert(app_syn, outbound_address());
  ASSERT_EQ(next_sent().info.dst.port, listener_port);
  session->forget_target(target_pid); // procscan: the process exited
  socket(socket_event(wd::event_socket_close, target_pid, 40030));
  auto segment = app_syn;
  segment[app.l4_offset + 13] = net::tcp_flag::ack | 0x08; // PSH
  divert(segment, outbound_address());
  auto out = next_sent();
  EXPECT_EQ(out.info.dst,
            (net::endpoint{net::ipv4_address{0x7f000001}, listener_port}))
      << "the exited target's segment went out direct";

  stop_engine();
  start_engine();
  divert(segment, outbound_address());
  auto reset = next_sent();
  EXPECT_EQ(reset.info.dst, app.src) << "the segment went out direct";
  EXPECT_EQ(reset.info.src, app.dst);
  EXPECT_NE(reset.info.tcp_flags & net::tcp_flag::rst, 0);
  EXPECT_FALSE(take().has_value());
}

// Inputs as the driver really gives them: socket events several to a
// batch, a UDP CONNECT, the System process's (PID 4) own hold on a
// target's port, packets several to a batch with their checksum flags 0
// (offloaded: the driver computes them); then the target's CLOSE.
TEST_F(windows_divert,
       driver_shaped_batches_and_system_events_keep_targets_in) {
  start_engine();
  std::string error;
  ASSERT_TRUE(session->add_target(target_pid, error));
  auto udp_event = socket_event(wd::event_socket_connect, target_pid, 50010,
                                net::proto_udp);
  auto system_hold
      = socket_event(wd::event_socket_bind, 4, 50010, net::proto_udp);
  auto other = socket_event(wd::event_socket_connect, other_pid, 40010);
  wd::address events[3] = {udp_event, system_hold, other};
  {
    auto before = driver.recv_calls(wd::layer_socket);
    ASSERT_TRUE(driver.deliver(wd::layer_socket, nullptr, 0, events, 3));
    ASSERT_TRUE(wait_until(
        [&] { return driver.recv_calls(wd::layer_socket) > before; }));
  }
  uint8_t voice[200];
  const uint8_t payload[20] = {1, 2, 3};
  auto voice_size = net::build_ipv4_udp(
      voice, sizeof voice, {*net::parse_ipv4("192.168.1.20"), 50010},
      {*net::parse_ipv4("35.214.1.2"), 50003}, payload, sizeof payload, 9);
  ASSERT_GT(voice_size, 0u);
  voice[voice_size - sizeof payload - 2] = 0; // UDP checksum left to the NIC
  voice[voice_size - sizeof payload - 1] = 0;
  auto other_syn = with_source_port(syn(), 40010);
  std::vector<uint8_t> batch(voice, voice + voice_size);
  batch.insert(batch.end(), other_syn.begin(), other_syn.end());
  auto offloaded = outbound_address();
  offloaded.ip_checksum = 0;
  offloaded.tcp_checksum = 0;
  offloaded.udp_checksum = 0;
  wd::address addrs[2] = {offloaded, offloaded};
  {
    auto before = driver.recv_calls(wd::layer_network);
    ASSERT_TRUE(driver.deliver(wd::layer_network, batch.data(),
                               static_cast<UINT>(batch.size()), addrs, 2));
    ASSERT_TRUE(wait_until(
        [&] { return driver.recv_calls(wd::layer_network) > before; }));
  }
  // The other program's SYN goes out as it came, flags and all; the
  // target's datagram never goes out direct, despite System's hold on its
  // port: it is the target's flow.
  auto out = next_sent();
  EXPECT_EQ(out.bytes, other_syn);
  EXPECT_EQ(std::memcmp(&out.addr, &offloaded, sizeof offloaded), 0);
  auto flows = flows_now();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].pid, target_pid);
  EXPECT_EQ(flows[0].protocol, net::proto_udp);
  while (auto more = take())
    EXPECT_NE(more->info.src.port, 50010) << "the target's datagram went out";
  // Its CLOSE: the port's owner is let go (no error, nothing sent).
  auto close
      = socket_event(wd::event_socket_close, target_pid, 50010, net::proto_udp);
  socket(close);
  EXPECT_FALSE(take().has_value());
}

// Between two sessions (a restart: the supervisor reopens the handle a
// moment later) the old session's port is read on by the fence: other
// programs' packets go out, a target's are held back (none leaks direct,
// the emulated driver's end-to-end test saw them do so when the parked
// handle was closed before the next one opened). The next session opens
// below it and closes it after; Stop (the guard released) closes it too.
TEST_F(windows_divert,
       between_sessions_the_fence_holds_targets_and_passes_others) {
  start_engine(50ms); // a short wait for an owner, for the unowned packet
  char filter[4096];
  int16_t first = 0, second = 0;
  UINT64 flags = 0, params[3] = {};
  ASSERT_TRUE(driver.info(wd::layer_network, filter, sizeof filter, &first,
                          &flags, params));
  std::string error;
  ASSERT_TRUE(session->add_target(target_pid, error));
  auto target_syn = with_source_port(syn(), 40020);
  socket(socket_event(wd::event_socket_connect, target_pid, 40020));
  socket(socket_event(wd::event_socket_bind, other_pid, 40021));
  stop_engine();
  // Both handles stay open, read by the fence.
  EXPECT_EQ(driver.open_handles(), 2);
  auto other_syn = with_source_port(syn(), 40021);
  divert(other_syn, outbound_address());
  EXPECT_EQ(next_sent().bytes, other_syn);
  auto fenced_before = guard->counters().packets_fenced;
  divert(target_syn, outbound_address());
  EXPECT_TRUE(wait_until([&] {
    return guard->counters().packets_fenced > fenced_before;
  })) << "the target's packet was not counted as stopped";
  EXPECT_FALSE(take().has_value()) << "a target's packet left between sessions";
  // A packet no process is known to own (its socket's event lost, and not
  // in the OS's tables either) may be a target's: after the wait for its
  // owner, the fence drops it, where a running session lets it out
  // (a_packet_nobody_owns_goes_out_after_the_wait).
  fenced_before = guard->counters().packets_fenced;
  auto unowned_syn = with_source_port(syn(), 40024);
  divert(unowned_syn, outbound_address());
  EXPECT_TRUE(wait_until([&] {
    return guard->counters().packets_fenced > fenced_before;
  })) << "a packet nobody owns was not stopped by the fence";
  EXPECT_FALSE(take().has_value()) << "a packet nobody owns left";

  start_engine();
  ASSERT_TRUE(driver.info(wd::layer_network, filter, sizeof filter, &second,
                          &flags, params));
  EXPECT_LT(second, first);
  EXPECT_EQ(driver.open_handles(), 2) << "the fenced handles are closed";
  stop_engine();
  EXPECT_EQ(driver.open_handles(), 2);
  guard->release(); // Stop
  EXPECT_EQ(driver.open_handles(), 0);
  guard.reset();
}

TEST_F(windows_divert, open_errors_reach_the_user_with_their_class) {
  platform::capture_options opts;
  opts.guard = platform::open_guard({}).guard;
  opts.listener = {net::nat_shape::loopback, listener_port};
  SetEnvironmentVariableA("DROVER_FAKE_WINDIVERT_OPEN_ERROR", "5");
  auto r = platform::open_capture(opts);
  EXPECT_FALSE(r.session);
  EXPECT_EQ(r.failure, platform::capture_failure::not_permitted);
  EXPECT_NE(r.error.find("administrator"), std::string::npos) << r.error;
  SetEnvironmentVariableA("DROVER_FAKE_WINDIVERT_OPEN_ERROR", "1275");
  r = platform::open_capture(opts);
  EXPECT_FALSE(r.session);
  EXPECT_EQ(r.failure, platform::capture_failure::unavailable);
  EXPECT_NE(r.error.find("antivirus"), std::string::npos) << r.error;
  SetEnvironmentVariableA("DROVER_FAKE_WINDIVERT_OPEN_ERROR", nullptr);
}

// `drover run -- PROGRAM`: started suspended, a target before its first
// instruction, its exit code handed back.
TEST_F(windows_divert, a_program_started_by_drover_is_a_target_from_the_start) {
  start_engine();
  std::string error;
  auto pid = session->spawn_target({"cmd.exe", "/c", "exit 3"}, 0, error);
  ASSERT_GT(pid, 0) << error;
  EXPECT_TRUE(session->is_target(static_cast<uint32_t>(pid)));
  EXPECT_EQ(platform::wait_exit_code(static_cast<unsigned long>(pid)), 3);
  session->forget_target(static_cast<uint32_t>(pid));
  EXPECT_FALSE(session->is_target(static_cast<uint32_t>(pid)));
  EXPECT_EQ(session->spawn_target({"no-such-program-here.exe"}, 0, error), -1);
  EXPECT_NE(error.find("no-such-program-here.exe"), std::string::npos) << error;
}

// `drover run` beside the running engine: the caller's program, started
// suspended as its child, is put in place (with its proxy) before it runs
// and its exit code comes back; what is not the caller's own is refused
// with a sentence, and a refused program is ended before it ran.
TEST_F(windows_divert, drover_run_puts_only_the_callers_own_in_place) {
  start_engine();
  std::string error;
  auto me = static_cast<uint32_t>(GetCurrentProcessId());
  auto program
      = platform::waiting_program::prepare({"cmd.exe", "/c", "exit 4"}, error);
  ASSERT_TRUE(program) << error;
  auto pid = static_cast<uint32_t>(program->pid());
  EXPECT_FALSE(session->is_target(pid));
  ASSERT_TRUE(session->join_target(pid, me, 0, 2, error)) << error;
  EXPECT_TRUE(session->is_target(pid));
  EXPECT_EQ(program->run(error), 4) << error;
  session->forget_target(pid);
  // Another child of this process, claimed by a caller it is no child of;
  // this process claimed by its child; a process that is not there.
  auto other
      = platform::waiting_program::prepare({"cmd.exe", "/c", "exit 0"}, error);
  ASSERT_TRUE(other) << error;
  auto claimer
      = platform::waiting_program::prepare({"cmd.exe", "/c", "exit 0"}, error);
  ASSERT_TRUE(claimer) << error;
  auto theirs = static_cast<uint32_t>(other->pid());
  auto asker = static_cast<uint32_t>(claimer->pid());
  EXPECT_FALSE(session->join_target(theirs, asker, 0, 0, error));
  EXPECT_NE(error.find("is neither yours nor a child of yours"),
            std::string::npos)
      << error;
  EXPECT_FALSE(session->join_target(me, asker, 0, 0, error));
  EXPECT_NE(error.find("is neither yours nor a child of yours"),
            std::string::npos)
      << error;
  EXPECT_FALSE(session->is_target(theirs));
  EXPECT_FALSE(session->is_target(me));
  EXPECT_FALSE(session->join_target(0x7ffffff0u, me, 0, 0, error));
  EXPECT_NE(error.find("is not running"), std::string::npos) << error;
  // Never run: ended when dropped.
  HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, theirs);
  ASSERT_NE(h, nullptr);
  other.reset();
  EXPECT_EQ(WaitForSingleObject(h, 10000), WAIT_OBJECT_0);
  CloseHandle(h);
}

// WinDivertSendEx takes at most 255 packets (more fail the whole call):
// a larger batch of verdicts goes out in chunks, every packet sent.
TEST_F(windows_divert, more_than_255_packets_are_sent_in_chunks) {
  start_engine();
  auto packet = syn();
  constexpr size_t n = 300;
  std::vector<uint8_t> bytes;
  std::vector<wd::address> addrs(n, outbound_address());
  std::vector<platform::verdict> v;
  bytes.reserve(n * packet.size());
  for (size_t i = 0; i < n; ++i)
    bytes.insert(bytes.end(), packet.begin(), packet.end());
  for (size_t i = 0; i < n; ++i)
    v.push_back({static_cast<uint32_t>(i), platform::verdict_kind::accept,
                 bytes.data() + i * packet.size(),
                 static_cast<uint32_t>(packet.size()), &addrs[i]});
  auto calls = driver.send_calls();
  EXPECT_FALSE(session->port().send_verdicts(v.data(), v.size()));
  EXPECT_EQ(driver.send_calls() - calls, 2) << "255, then 45";
  size_t taken = 0;
  while (take())
    ++taken;
  EXPECT_EQ(taken, n) << "nothing lost";
}

// A real process whose image is `name` (a copy of this test's own
// executable), started suspended: it runs nothing. Ended and removed with
// the object.
struct named_process {
  PROCESS_INFORMATION pi{};
  std::wstring path;
  std::wstring folder;

  explicit named_process(const std::wstring& name) {
    wchar_t self[MAX_PATH];
    GetModuleFileNameW(nullptr, self, MAX_PATH);
    path = std::wstring{self};
    folder = path.substr(0, path.find_last_of(L"\\/"));
    path = folder + L"\\" + name;
    EXPECT_TRUE(CopyFileW(self, path.c_str(), FALSE));
    STARTUPINFOW si{};
    si.cb = sizeof si;
    std::wstring line = L"\"" + path + L"\" --gtest_list_tests";
    EXPECT_TRUE(CreateProcessW(nullptr, line.data(), nullptr, nullptr, FALSE,
                               CREATE_SUSPENDED, nullptr, nullptr, &si, &pi));
  }
  ~named_process() {
    TerminateProcess(pi.hProcess, 0);
    WaitForSingleObject(pi.hProcess, 5000);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    DeleteFileW(path.c_str());
  }
  uint32_t pid() const { return static_cast<uint32_t>(pi.dwProcessId); }
};

std::string narrow(const std::wstring& w) {
  return std::string(w.begin(), w.end()); // test paths are ASCII
}

// A process the scan never saw opens its first socket: a rule names its
// image, so that very socket's packets are captured, not passed.
TEST_F(windows_divert, a_new_target_is_captured_at_its_first_socket) {
  if (!guard)
    guard = platform::open_guard({}).guard;
  std::string error;
  platform::target_selection t;
  t.rules.resize(1);
  t.rules[0].apps = {"DroverTestDiscord.exe"};
  ASSERT_TRUE(guard->set_targets(t, error)) << error;
  start_engine();
  named_process app{L"DroverTestDiscord.exe"};
  auto app_syn = with_source_port(syn(), 50123);
  socket(socket_event(wd::event_socket_connect, app.pid(), 50123));
  divert(app_syn, outbound_address());
  auto out = next_sent();
  EXPECT_EQ(out.info.dst.port, listener_port) << "redirected: a target";
  EXPECT_TRUE(session->is_target(app.pid()));
}

// A `block` rule by folder (its path, without regard to case): the
// process's first connection is refused with a reset to the application,
// nothing goes out; a `direct` rule before it would have let it go.
TEST_F(windows_divert, a_blocked_process_is_refused_at_its_first_socket) {
  if (!guard)
    guard = platform::open_guard({}).guard;
  named_process app{L"DroverTestBlocked.exe"};
  std::string error;
  platform::target_selection t;
  t.rules.resize(1);
  auto folder = narrow(app.folder);
  for (auto& c : folder)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  t.rules[0].folders = {folder};
  t.rules[0].action = config::rule_action::block;
  ASSERT_TRUE(guard->set_targets(t, error)) << error;
  start_engine();
  auto app_syn = with_source_port(syn(), 50124);
  socket(socket_event(wd::event_socket_connect, app.pid(), 50124));
  divert(app_syn, outbound_address());
  auto rst = next_sent();
  EXPECT_NE(rst.info.tcp_flags & net::tcp_flag::rst, 0) << "refused at once";
  EXPECT_EQ(rst.info.dst.port, 50124) << "to the application";
  EXPECT_FALSE(session->is_target(app.pid()));
}

// `drover run`'s program is a run root: a program it starts is a target
// through the root's proxy from its first socket, whatever a rule says of
// its name (a block rule here), as the run cgroup keeps it on Linux.
TEST_F(windows_divert, a_drover_run_programs_child_goes_through_its_proxy) {
  if (!guard)
    guard = platform::open_guard({}).guard;
  std::string error;
  platform::target_selection t;
  t.rules.resize(1);
  t.rules[0].apps = {"DroverTestRunChild.exe"};
  t.rules[0].action = config::rule_action::block;
  ASSERT_TRUE(guard->set_targets(t, error)) << error;
  start_engine();
  auto me = static_cast<uint32_t>(GetCurrentProcessId());
  // This process, put in place as `drover run` puts its own.
  ASSERT_TRUE(session->join_target(me, me, 0, 0, error)) << error;
  named_process child{L"DroverTestRunChild.exe"};
  socket(socket_event(wd::event_socket_connect, child.pid(), 50129));
  divert(with_source_port(syn(), 50129), outbound_address());
  auto out = next_sent();
  EXPECT_EQ(out.info.dst.port, listener_port) << "redirected, not refused";
  EXPECT_TRUE(session->is_target(child.pid()));
  session->forget_target(me);
}

// While the proxy cannot be used, a target whose rule's fallback is direct
// has its new connection let out as it is; another target's is refused.
TEST_F(windows_divert, a_rules_direct_fallback_lets_its_connection_out) {
  if (!guard)
    guard = platform::open_guard({}).guard;
  named_process direct_app{L"DroverTestFallback.exe"};
  named_process other_app{L"DroverTestStrict.exe"};
  std::string error;
  platform::target_selection t;
  t.rules.resize(2);
  t.rules[0].apps = {"DroverTestFallback.exe"};
  t.rules[0].fallback = config::rule_fallback::direct;
  t.rules[1].apps = {"DroverTestStrict.exe"};
  ASSERT_TRUE(guard->set_targets(t, error)) << error;
  start_engine();
  caf::anon_send(fm, atom::update_v,
                 flow_policy::both(new_flow_policy::refuse));
  auto direct_syn = with_source_port(syn(), 50125);
  socket(socket_event(wd::event_socket_connect, direct_app.pid(), 50125));
  auto a = outbound_address();
  divert(direct_syn, a);
  auto out = next_sent();
  EXPECT_EQ(out.bytes, direct_syn) << "out as it is: direct";
  auto strict_syn = with_source_port(syn(), 50126);
  socket(socket_event(wd::event_socket_connect, other_app.pid(), 50126));
  divert(strict_syn, a);
  auto rst = next_sent();
  EXPECT_NE(rst.info.tcp_flags & net::tcp_flag::rst, 0) << "refused";
}

// Several proxies: each target's packets carry its rule's proxy, so its
// new connection meets that proxy's policy (the second proxy up, the first
// down here) and its session that proxy.
TEST_F(windows_divert, each_targets_connection_meets_its_rules_proxy) {
  if (!guard)
    guard = platform::open_guard({}).guard;
  named_process home_app{L"DroverTestHome.exe"};
  named_process work_app{L"DroverTestWork.exe"};
  std::string error;
  platform::target_selection t;
  t.rules.resize(2);
  t.rules[0].apps = {"DroverTestHome.exe"};
  t.rules[1].apps = {"DroverTestWork.exe"};
  t.rules[1].proxy = "work";
  t.proxy_names = {"home", "work"};
  ASSERT_TRUE(guard->set_targets(t, error)) << error;
  start_engine();
  caf::anon_send(fm, atom::update_v, uint32_t{0},
                 flow_policy::both(new_flow_policy::refuse));
  caf::anon_send(fm, atom::update_v, uint32_t{1},
                 flow_policy::both(new_flow_policy::proxy));
  auto a = outbound_address();
  auto work_syn = with_source_port(syn(), 50127);
  socket(socket_event(wd::event_socket_connect, work_app.pid(), 50127));
  divert(work_syn, a);
  auto out = next_sent();
  EXPECT_EQ(out.info.dst.port, listener_port) << "its proxy is up: redirected";
  auto home_syn = with_source_port(syn(), 50128);
  socket(socket_event(wd::event_socket_connect, home_app.pid(), 50128));
  divert(home_syn, a);
  auto rst = next_sent();
  EXPECT_NE(rst.info.tcp_flags & net::tcp_flag::rst, 0)
      << "its proxy is down: refused";
}

// The packet thread stops reading (the engine stalled): every program's
// traffic waits in the same driver queue, so after 3 s the handle stops
// diverting and the port fails, for the engine to reopen it.
TEST_F(windows_divert, a_reader_that_stops_reading_lets_the_handle_go) {
  guard = platform::open_guard({}).guard;
  platform::capture_options opts;
  opts.guard = guard;
  opts.listener = {net::nat_shape::loopback, listener_port};
  opts.skip.proxy = *net::parse_ipv4("10.99.0.1");
  auto r = platform::open_capture(opts);
  ASSERT_TRUE(r.session) << r.error;
  driver = fake_driver{};
  std::string error;
  ASSERT_TRUE(r.session->add_target(target_pid, error));
  auto batch = r.session->port().new_batch();
  std::thread feed{[&] {
    socket(socket_event(wd::event_socket_connect, target_pid, 50200));
  }};
  auto app_syn = with_source_port(syn(), 50200);
  auto a = outbound_address();
  std::thread packet{[&] {
    std::this_thread::sleep_for(100ms);
    driver.deliver(wd::layer_network, app_syn.data(),
                   static_cast<UINT>(app_syn.size()), &a, 1);
  }};
  EXPECT_EQ(r.session->port().receive(*batch),
            platform::packet_port::receive_status::packets);
  feed.join();
  packet.join();
  // Nobody calls receive() again.
  EXPECT_FALSE(driver.is_shut(wd::layer_network));
  EXPECT_TRUE(wait_until([&] { return driver.is_shut(wd::layer_network); }))
      << "the handle is let go after 3 s";
  EXPECT_EQ(r.session->port().receive(*batch),
            platform::packet_port::receive_status::failed);
  EXPECT_NE(r.session->port().last_error().find("stopped for 3 s"),
            std::string::npos)
      << r.session->port().last_error();
}
