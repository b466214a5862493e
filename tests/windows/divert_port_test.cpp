// The Windows packet path end to end, under wine (divert_port_world.hpp):
// what becomes of each packet, by its owner, its shape and its protocol.

#include "tests/windows/divert_port_world.hpp"

using namespace drover;
using namespace drover::test::windows_divert_world;

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
  ASSERT_EQ(session->add_target(target_pid, 0, error),
            platform::take_up::taken);
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
  ASSERT_EQ(session->add_target(target_pid, 0, error),
            platform::take_up::taken);
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
  ASSERT_EQ(session->add_target(target_pid, 0, error),
            platform::take_up::taken);
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
  ASSERT_EQ(session->add_target(target_pid, 0, error),
            platform::take_up::taken);
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
  ASSERT_EQ(session->add_target(target_pid, 0, error),
            platform::take_up::taken);
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
  ASSERT_EQ(session->add_target(target_pid, 0, error),
            platform::take_up::taken);
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
  ASSERT_EQ(session->add_target(target_pid, 0, error),
            platform::take_up::taken);
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
  ASSERT_EQ(session->add_target(target_pid, 0, error),
            platform::take_up::taken);
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
  ASSERT_EQ(session->add_target(target_pid, 0, error),
            platform::take_up::taken);
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
