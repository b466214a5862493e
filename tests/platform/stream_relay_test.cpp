// The TCP relay on the real kernel (tests/platform/relay_lab.hpp): nat
// REDIRECT sends connections to the relay's listener, dante is the proxy,
// the test peer's echo server behind it speaks first (its greeting follows
// CONNECT's reply in the same read).

#include "tests/platform/relay_lab.hpp"

using namespace drover;
using namespace drover::test;

TEST_F(stream_relay_test, a_redirected_connection_goes_through_the_proxy) {
  auto relay = start(platform::relay_mode::proxy, dante());
  int fd = client();
  ASSERT_GE(fd, 0);
  // The server sees the proxy, not the application.
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
  std::string hello = "hello through the relay";
  ASSERT_EQ(::send(fd, hello.data(), hello.size(), 0),
            static_cast<ssize_t>(hello.size()));
  EXPECT_EQ(read_exactly(fd, hello.size()), hello);
  auto opened = events.wait_for(kind::opened);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->remote, at(proxy_lab::server_ip, 7));
  EXPECT_EQ(opened->app.ip, at(proxy_lab::app_ip, 0).ip);
  // Half-close: the application's FIN reaches the server, which ends.
  ::shutdown(fd, SHUT_WR);
  int error = -1;
  EXPECT_EQ(read_exactly(fd, 1, &error), "");
  EXPECT_EQ(error, 0) << "an orderly end, not a reset";
  ::close(fd);
  auto ended = events.wait_for(kind::ended);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->id, opened->id);
  EXPECT_EQ(ended->out, hello.size());
  EXPECT_GT(ended->in, hello.size()); // the greeting and the echo
  EXPECT_TRUE(events.failures.empty());
}

// Pipelined: the greeting and CONNECT leave in one segment, one round trip
// to the proxy fewer; the server's first bytes and the echo come through as
// before.
TEST_F(stream_relay_test, a_pipelined_exchange_goes_through_dante) {
  auto relay = start(platform::relay_mode::proxy, dante());
  relay->set_pipelining(true);
  for (int round = 0; round < 3; ++round) {
    int fd = client();
    ASSERT_GE(fd, 0);
    EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
    std::string hello = "pipelined " + std::to_string(round);
    ASSERT_EQ(::send(fd, hello.data(), hello.size(), 0),
              static_cast<ssize_t>(hello.size()));
    EXPECT_EQ(read_exactly(fd, hello.size()), hello);
    ::close(fd);
  }
  EXPECT_TRUE(events.failures.empty());
}

// Why the relay pipelines only once the check has seen it work: microsocks
// reads one message per read, so the CONNECT that came with the greeting is
// lost and the connection hangs. The check's probe tells the two proxies
// apart, quickly; without pipelining microsocks relays as well.
TEST_F(stream_relay_test,
       only_a_proxy_the_probe_saw_read_both_at_once_gets_them_together) {
  auto microsocks = lab->microsocks(1081);
  if (!microsocks)
    GTEST_SKIP() << "needs microsocks";
  auto one_at_a_time = at(proxy_lab::proxy_ip, 1081);
  probe_request req;
  req.try_pipelining = true;
  req.udp_associate = false; // microsocks has none
  req.proxy = dante();
  auto dante_probe = inside(lab->app, [&] { return probe_proxy(req); });
  EXPECT_EQ(dante_probe.verdict, probe_verdict::ok) << dante_probe.reason;
  EXPECT_TRUE(dante_probe.pipelining);
  req.proxy = one_at_a_time;
  auto began = std::chrono::steady_clock::now();
  auto micro_probe = inside(lab->app, [&] { return probe_proxy(req); });
  EXPECT_LT(std::chrono::steady_clock::now() - began, 1500ms)
      << "a proxy that does not answer costs the check little";
  EXPECT_EQ(micro_probe.verdict, probe_verdict::ok) << micro_probe.reason;
  EXPECT_FALSE(micro_probe.pipelining);

  spares = 0; // a spare's request goes alone: what is tested is the pair
  auto relay = start(platform::relay_mode::proxy, one_at_a_time, 1s);
  int fd = client();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
  ::close(fd);
  EXPECT_TRUE(events.failures.empty());
  relay->set_pipelining(true); // what the probe protects against
  fd = client();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_line(fd), "");
  ::close(fd);
  ASSERT_TRUE(events.wait_for_failure());
  EXPECT_NE(events.failures.front().find("did not answer"), std::string::npos)
      << events.failures.front();
}

// A proxy that refuses UDP ASSOCIATE (microsocks: "command not supported")
// is usable for TCP: the check says tcp_only, not unreachable, and a proxy
// that is not there is still unreachable.
TEST_F(stream_relay_test,
       the_probe_tells_a_tcp_only_proxy_from_one_that_is_down) {
  auto microsocks = lab->microsocks(1081);
  if (!microsocks)
    GTEST_SKIP() << "needs microsocks";
  probe_request req;
  req.proxy = at(proxy_lab::proxy_ip, 1081);
  auto r = inside(lab->app, [&] { return probe_proxy(req); });
  EXPECT_EQ(r.verdict, probe_verdict::tcp_only) << r.reason;
  EXPECT_TRUE(r.udp_refused);
  EXPECT_NE(r.udp_detail.find("command not supported"), std::string::npos)
      << r.udp_detail;
  req.proxy = dante();
  r = inside(lab->app, [&] { return probe_proxy(req); });
  EXPECT_EQ(r.verdict, probe_verdict::ok) << r.reason;
  EXPECT_FALSE(r.udp_refused);
  req.proxy = at(proxy_lab::proxy_ip, 1999);
  req.budget = 1s;
  r = inside(lab->app, [&] { return probe_proxy(req); });
  EXPECT_EQ(r.verdict, probe_verdict::unreachable) << r.reason;
  EXPECT_FALSE(r.udp_refused);
  // OpenSSH's `ssh -D` hangs up on any request but CONNECT, without a
  // reply (channels.c); as sshd is a system service, not something a test
  // should install, a few lines of Python answer as it does.
  child hangs_up{{"ip", "netns", "exec", lab->remote.name(), "python3", "-c",
                  "import socket\n"
                  "s = socket.socket()\n"
                  "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                  "s.bind(('"
                      + proxy_lab::proxy_ip
                      + "', 1082))\n"
                        "s.listen()\n"
                        "print('listening', flush=True)\n"
                        "c, _ = s.accept()\n"
                        "c.recv(3)\n"
                        "c.sendall(b'\\x05\\x00')\n"
                        "c.recv(10)\n"
                        "c.close()\n"}};
  ASSERT_TRUE(hangs_up.wait_for_output("listening", 10s));
  req.proxy = at(proxy_lab::proxy_ip, 1082);
  r = inside(lab->app, [&] { return probe_proxy(req); });
  EXPECT_EQ(r.verdict, probe_verdict::tcp_only) << r.reason;
  EXPECT_EQ(r.udp_detail, "it closed the connection on UDP ASSOCIATE");
}

TEST_F(stream_relay_test,
       bulk_both_ways_arrives_intact_and_no_descriptor_stays) {
  auto relay = start(platform::relay_mode::proxy, dante());
  auto before = open_descriptors(::getpid());
  constexpr size_t size = 8 << 20;
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i)
    data[i] = static_cast<char>((i * 7919) >> 3);
  for (int round = 0; round < 3; ++round) {
    int fd = client();
    ASSERT_GE(fd, 0);
    read_line(fd);
    std::thread writer{[&] {
      size_t done = 0;
      while (done < size) {
        auto n = ::send(fd, data.data() + done, size - done, MSG_NOSIGNAL);
        if (n <= 0)
          break;
        done += static_cast<size_t>(n);
      }
    }};
    auto back = read_exactly(fd, size);
    writer.join();
    EXPECT_TRUE(back == data)
        << "round " << round << ": " << back.size() << " bytes came back";
    ::close(fd);
  }
  ASSERT_TRUE(events.wait_for(kind::ended, 3));
  // The relay's threads keep a few spare pipes; nothing grows per stream.
  EXPECT_LE(open_descriptors(::getpid()), before + 2 * 8);
}

// A server that speaks first on a web port (the client sends nothing, so
// names nothing): after a short wait the proxy is asked for the address,
// and the connection works as any other.
TEST_F(stream_relay_test, a_silent_client_on_a_web_port_gets_the_address) {
  auto server_first = lab->server(DROVER_PEER, "tcp-echo", "443");
  auto relay = start(platform::relay_mode::proxy, dante());
  auto began = std::chrono::steady_clock::now();
  int fd
      = inside(lab->app, [&] { return connect_to(proxy_lab::server_ip, 443); });
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
  auto waited = std::chrono::steady_clock::now() - began;
  EXPECT_GE(waited, 250ms) << "the client was given time to name the server";
  EXPECT_LT(waited, 3s);
  ::close(fd);
  // A name the proxy cannot resolve (dante asks its own DNS): the address
  // the application connected to is tried next, and the connection works
  // as it did without names; the request reaches the server whole.
  fd = inside(lab->app, [&] { return connect_to(proxy_lab::server_ip, 443); });
  ASSERT_GE(fd, 0);
  std::string request = "GET / HTTP/1.1\r\nHost: no-such-host.invalid\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0),
            static_cast<ssize_t>(request.size()));
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
  EXPECT_EQ(read_exactly(fd, request.size()), request);
  ::close(fd);
  EXPECT_TRUE(events.failures.empty())
      << "the proxy answered: not the proxy's fault: "
      << (events.failures.empty() ? "" : events.failures.front());
}

TEST_F(stream_relay_test, a_local_program_cannot_use_the_listener_as_a_relay) {
  auto relay = start(platform::relay_mode::proxy, dante());
  int fd = inside(lab->app,
                  [&] { return connect_to("127.0.0.1", listen_at.port); });
  ASSERT_GE(fd, 0);
  int error = 0;
  EXPECT_EQ(read_exactly(fd, 1, &error), "");
  EXPECT_EQ(error, ECONNRESET);
  ::close(fd);
  EXPECT_TRUE(events.wait_for(kind::not_redirected));
}

TEST_F(stream_relay_test,
       while_not_proxying_a_connection_is_refused_never_direct) {
  auto relay = start(platform::relay_mode::refuse, dante());
  errno = 0;
  EXPECT_EQ(client(), -1);
  EXPECT_EQ(errno, ECONNREFUSED) << "refused at once, by the kernel";
  std::string error;
  // Proxying: the listener takes connections again, on the same port ...
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::proxy,
                              platform::relay_mode::proxy, error))
      << error;
  int fd = client();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u);
  // ... and not proxying again ends no open stream.
  ASSERT_TRUE(relay->set_mode(platform::relay_mode::refuse,
                              platform::relay_mode::refuse, error))
      << error;
  EXPECT_EQ(client(), -1);
  std::string ping = "still here";
  ::send(fd, ping.data(), ping.size(), 0);
  EXPECT_EQ(read_exactly(fd, ping.size()), ping);
  ::close(fd);
}

TEST_F(stream_relay_test,
       a_proxy_that_refuses_is_reported_and_the_stream_reset) {
  // Nothing listens on port 1081: the connect is refused.
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1081));
  int fd = client();
  ASSERT_GE(fd, 0);
  int error = 0;
  EXPECT_EQ(read_exactly(fd, 1, &error), "");
  EXPECT_EQ(error, ECONNRESET);
  ::close(fd);
  ASSERT_TRUE(events.wait_for_failure());
  EXPECT_NE(events.failures.front().find("cannot connect to the proxy"),
            std::string::npos)
      << events.failures.front();
  EXPECT_TRUE(events.wait_for(kind::ended));
}

TEST_F(stream_relay_test, the_engine_ends_a_stream_and_every_stream) {
  auto relay = start(platform::relay_mode::proxy, dante());
  int first = client();
  int second = client();
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  read_line(first);
  read_line(second);
  auto opened = events.wait_for(kind::opened, 2);
  ASSERT_TRUE(opened);
  relay->close(opened->id); // evicted from the table, say
  int error = 0;
  read_exactly(second, 1, &error);
  EXPECT_EQ(error, ECONNRESET);
  relay->close_all(); // the computer goes to sleep
  error = 0;
  read_exactly(first, 1, &error);
  EXPECT_EQ(error, ECONNRESET);
  ::close(first);
  ::close(second);
  EXPECT_TRUE(events.wait_for(kind::ended, 2));
}

TEST_F(stream_relay_test, progress_is_reported_while_bytes_move) {
  auto relay = start(platform::relay_mode::proxy, dante());
  int fd = client();
  ASSERT_GE(fd, 0);
  read_line(fd);
  std::string chunk(1000, 'x');
  ::send(fd, chunk.data(), chunk.size(), 0);
  read_exactly(fd, chunk.size());
  // A report may come between the banner and the chunk (the banner's
  // bytes alone): the first one to count bytes out must count them all.
  auto progress = events.wait_until([](const net::stream_news& n) {
    return n.what == kind::progress && n.out > 0;
  });
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->out, chunk.size());
  ::close(fd);
}

namespace {

// A burst of four `connection`s, then one more, whose request must go on a
// connection the proxy had greeted before it: a spare.
void expect_a_burst_to_leave_a_spare(child& proxy,
                                     const std::function<void()>& connection) {
  for (int i = 0; i < 4; ++i)
    connection();
  ASSERT_TRUE(wait_for_story(proxy, [](const std::string& out) {
    return !greeted_only(out).empty();
  })) << proxy.output();
  auto before = newest_connection(proxy.output());
  auto from = proxy.output().size();
  connection();
  ASSERT_TRUE(proxy.wait_for_output("request ", 10s, from));
  auto asked = proxy.output().substr(proxy.output().find("request ", from));
  int number = std::stoi(asked.substr(8));
  EXPECT_LE(number, before)
      << "request " << number << " went on a fresh connection:\n"
      << proxy.output();
}

} // namespace

// A lone connection opens one proxy connection; a burst leaves spares the
// proxy greeted ahead, and the next connection's request goes on one of
// them. Once the burst is over, every spare is closed after its lifetime.
TEST_F(stream_relay_test,
       a_burst_is_served_by_proxy_connections_greeted_ahead) {
  auto proxy = recording_proxy(1083);
  spare_lifetime = 2s;
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1083));
  one_connection();
  ASSERT_TRUE(proxy->wait_for_output("closed 1", 10s));
  EXPECT_EQ(proxy_story(proxy->output()).size(), 1u) << proxy->output();
  expect_a_burst_to_leave_a_spare(*proxy, [&] { one_connection(); });
  // Lifetime over, demand gone: every connection the proxy saw is closed.
  EXPECT_TRUE(wait_for_story(*proxy, every_connection_closed))
      << proxy->output();
  EXPECT_TRUE(events.failures.empty());
}

namespace {

// Three connections in a row, then waits (bounded) for the proxy to have
// greeted a connection nobody asked anything on yet: a spare.
bool burst_until_spares(child& proxy, const std::function<int()>& client) {
  for (int i = 0; i < 3; ++i) {
    int fd = client();
    if (fd < 0)
      return false;
    read_line(fd);
    ::close(fd);
  }
  return wait_for_story(
      proxy, [](const std::string& out) { return !greeted_only(out).empty(); });
}

} // namespace

// A proxy may end a greeted connection (its idle timeout) just as the
// relay sends a request on it: the stream goes on a fresh connection,
// unseen by the application, and no proxy trouble is reported.
TEST_F(stream_relay_test, a_spare_the_proxy_hangs_up_on_is_replaced_unseen) {
  auto proxy = recording_proxy(1084, "--stale-after 300");
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1084));
  ASSERT_TRUE(burst_until_spares(*proxy, [&] { return client(); }))
      << proxy->output();
  // The condition under test, not a wait for an event: spares older than
  // the proxy's 300 ms.
  std::this_thread::sleep_for(400ms);
  int fd = client();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_line(fd).rfind("peer " + proxy_lab::proxy_ip + ":", 0), 0u)
      << proxy->output();
  ::close(fd);
  EXPECT_NE(proxy->output().find("hung up"), std::string::npos)
      << "no spare was used:\n"
      << proxy->output();
  EXPECT_TRUE(events.failures.empty())
      << (events.failures.empty() ? "" : events.failures.front());
}

// Ending every stream (the computer going to sleep: the way to the proxy
// may be gone when it wakes) closes the spares too, long before their
// lifetime.
TEST_F(stream_relay_test, ending_every_stream_closes_the_spares) {
  auto proxy = recording_proxy(1085);
  spare_lifetime = 60s;
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1085));
  ASSERT_TRUE(burst_until_spares(*proxy, [&] { return client(); }))
      << proxy->output();
  relay->close_all();
  EXPECT_TRUE(wait_for_story(
      *proxy, [](const std::string& out) { return greeted_only(out).empty(); }))
      << "a spare outlived close_all:\n"
      << proxy->output();
}

// A spare the proxy refuses (its greeting answered "no acceptable method")
// pauses the spares for 5 s: a proxy that refuses is not asked again and
// again ahead of need; the streams meanwhile go on fresh connections (and
// would meet and report a proxy that refuses them too). Then bursts get
// spares again.
TEST_F(stream_relay_test, a_refused_spare_pauses_the_spares) {
  // The first connection is lone; the second makes a burst, whose spare
  // is the proxy's third connection.
  auto proxy = recording_proxy(1086, "--refuse-greeting 3");
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1086));
  one_connection();
  one_connection();
  ASSERT_TRUE(proxy->wait_for_output("refused 3", 10s)) << proxy->output();
  auto refused_at = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i)
    one_connection();
  // A burst that would have left spares within milliseconds (the test
  // above): none for a second, well inside the pause.
  EXPECT_FALSE(wait_for_story(
      *proxy, [](const std::string& out) { return !greeted_only(out).empty(); },
      1s))
      << "a spare during the pause:\n"
      << proxy->output();
  EXPECT_TRUE(events.failures.empty())
      << (events.failures.empty() ? "" : events.failures.front());
  // The condition under test is the pause's length: past it, a burst gets
  // spares again.
  std::this_thread::sleep_until(refused_at + 5s);
  EXPECT_TRUE(burst_until_spares(*proxy, [&] { return client(); }))
      << proxy->output();
}

// An HTTP proxy has no greeting to pay ahead: a burst opens one proxy
// connection per application connection, and no more.
TEST_F(stream_relay_test, an_http_proxy_gets_no_spares) {
  auto proxy = recording_proxy(1087, "--http");
  http = true;
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1087));
  for (int i = 0; i < 4; ++i)
    one_connection();
  // Spares would be connections the proxy accepted and was asked nothing
  // on; with SOCKS5 they appear within milliseconds of such a burst.
  EXPECT_FALSE(wait_for_story(
      *proxy,
      [](const std::string& out) {
        for (auto& [n, words] : proxy_story(out))
          if (words.count("request") == 0)
            return true;
        return false;
      },
      1s))
      << proxy->output();
  EXPECT_EQ(proxy_story(proxy->output()).size(), 4u) << proxy->output();
}

// A server that answers and hangs up at once: the proxy's reply, the
// server's bytes (`text`, maybe none) and their end come in one segment.
// The application gets every byte and then an orderly end, on a fresh proxy
// connection and on a spare alike. (The relay stops reading a socket once a
// read leaves room, since anything later brings an event of its own; an
// end already announced brings none, and is read in the same round.)
void stream_relay_test::answer_and_close(const std::string& text) {
  auto proxy = recording_proxy(1088, "--answer-and-close '" + text + "'");
  auto relay
      = start(platform::relay_mode::proxy, at(proxy_lab::proxy_ip, 1088));
  auto heard_to_the_end = [&] {
    int fd = client();
    ASSERT_GE(fd, 0);
    EXPECT_EQ(read_exactly(fd, text.size()), text);
    int error = -1;
    EXPECT_EQ(read_exactly(fd, 1, &error), "");
    EXPECT_EQ(error, 0) << "an orderly end, not a reset or a wait";
    ::close(fd);
  };
  expect_a_burst_to_leave_a_spare(*proxy, heard_to_the_end);
  EXPECT_TRUE(events.failures.empty())
      << (events.failures.empty() ? "" : events.failures.front());
}

TEST_F(stream_relay_test, an_answer_and_its_end_in_one_segment_both_arrive) {
  answer_and_close("bye");
}

TEST_F(stream_relay_test, a_reply_and_the_end_in_one_segment_end_the_stream) {
  answer_and_close("");
}

// -- UDP: TPROXY to the intake, one association per application socket ----
