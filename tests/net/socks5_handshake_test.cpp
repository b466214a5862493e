// The one SOCKS5 client sequence (net/socks5_handshake): what it sends at
// each stage, what it makes of the proxy's answers however they are cut,
// and the failures every caller now reports the same way.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/socks5_handshake.hpp"

using namespace drover::net;
using namespace drover::net::socks5;
using bytes = std::vector<uint8_t>;
using action = client_handshake::step::action;

namespace {

address v4(const char* ip, uint16_t port) {
  return address::from_ipv4(*parse_ipv4(ip), port);
}

bytes sent(const client_handshake::step& s) {
  EXPECT_EQ(s.what, action::send);
  return bytes(s.bytes, s.bytes + s.size);
}

const bytes connect_to_10_0_0_1_443{5, 1, 0, 1, 10, 0, 0, 1, 0x01, 0xbb};
const bytes reply_bound_198_51_100_7_1080{5,  0,   0, 1,    198,
                                          51, 100, 7, 0x04, 0x38};

// Plays a proxy's whole answer, `piece` bytes at a time as a socket might
// deliver them: the bytes the client sent, and its last step.
struct played {
  std::vector<bytes> sent;
  client_handshake::step last;
  size_t leftover = 0; // bytes after the reply, the application's
};

played play(client_handshake& h, const bytes& answer, size_t piece,
            bool pipelined = false) {
  played p;
  p.sent.push_back(sent(pipelined ? h.start_pipelined() : h.start()));
  bytes pending;
  size_t at = 0;
  for (;;) {
    auto step = h.feed(pending.data(), pending.size());
    pending.erase(pending.begin(),
                  pending.begin() + static_cast<long>(step.consumed));
    p.last = step;
    if (step.what == action::send) {
      p.sent.emplace_back(step.bytes, step.bytes + step.size);
      continue;
    }
    if (step.what != action::need_more)
      break;
    if (at == answer.size())
      break;
    auto n = std::min(piece, answer.size() - at);
    pending.insert(pending.end(), answer.begin() + static_cast<long>(at),
                   answer.begin() + static_cast<long>(at + n));
    at += n;
  }
  p.leftover = pending.size() + (answer.size() - at);
  return p;
}

bytes concat(std::initializer_list<bytes> parts) {
  bytes all;
  for (auto& p : parts)
    all.insert(all.end(), p.begin(), p.end());
  return all;
}

} // namespace

TEST(socks5_handshake, connect_without_login_leaves_the_applications_bytes) {
  for (size_t piece : {1u, 2u, 3u, 100u}) {
    client_handshake h{false, "", "", command::connect, v4("10.0.0.1", 443)};
    auto answer = concat({{5, 0}, reply_bound_198_51_100_7_1080, {'h', 'i'}});
    auto p = play(h, answer, piece);
    ASSERT_EQ(p.last.what, action::done) << "piece " << piece;
    EXPECT_EQ(h.current(), client_handshake::stage::done);
    ASSERT_EQ(p.sent.size(), 2u);
    EXPECT_EQ(p.sent[0], (bytes{5, 1, 0}));
    EXPECT_EQ(p.sent[1], connect_to_10_0_0_1_443);
    EXPECT_EQ(h.bound().ipv4, *parse_ipv4("198.51.100.7"));
    EXPECT_EQ(h.bound().port, 1080);
    EXPECT_EQ(p.leftover, 2u) << "the application's bytes are not eaten";
  }
}

// Pipelined: the greeting and the request in one message; the method
// selection and the reply are read as before, however they are cut.
TEST(socks5_handshake, pipelined_the_request_goes_with_the_greeting) {
  for (size_t piece : {1u, 2u, 3u, 100u}) {
    client_handshake h{false, "", "", command::connect, v4("10.0.0.1", 443)};
    auto answer = concat({{5, 0}, reply_bound_198_51_100_7_1080, {'h', 'i'}});
    auto p = play(h, answer, piece, true);
    ASSERT_EQ(p.last.what, action::done) << "piece " << piece;
    ASSERT_EQ(p.sent.size(), 1u) << "nothing more to send";
    EXPECT_EQ(p.sent[0], concat({{5, 1, 0}, connect_to_10_0_0_1_443}));
    EXPECT_EQ(h.bound().port, 1080);
    EXPECT_EQ(p.leftover, 2u) << "the application's bytes are not eaten";
  }
  // A refusal of the request is the proxy's answer, as unpipelined.
  client_handshake refused{false, "", "", command::connect,
                           v4("10.0.0.1", 443)};
  auto p = play(refused, {5, 0, 5, 5, 0}, 1, true);
  EXPECT_EQ(p.last.err, error::connection_refused);
}

// A login must wait for the proxy to pick it, and the proxy cannot pick one
// that was not offered: neither is ever pipelined.
TEST(socks5_handshake, pipelining_is_only_for_an_exchange_without_login) {
  client_handshake with_login{true, "alice", "pw", command::connect,
                              v4("10.0.0.1", 443)};
  EXPECT_EQ(with_login.start_pipelined().err, error::out_of_order);
  client_handshake no_request{false, "", ""};
  EXPECT_EQ(no_request.start_pipelined().err, error::out_of_order);
  client_handshake h{false, "", "", command::connect, v4("10.0.0.1", 443)};
  auto p = play(h, {5, 2}, 1, true);
  EXPECT_EQ(p.last.err, error::unexpected_method);
}

TEST(socks5_handshake, the_login_goes_when_the_proxy_picks_it) {
  std::string login = "alice", password = "pw";
  client_handshake h{true, login, password, command::udp_associate,
                     v4("0.0.0.0", 0)};
  auto p = play(h, concat({{5, 2}, {1, 0}, reply_bound_198_51_100_7_1080}), 1);
  ASSERT_EQ(p.last.what, action::done);
  ASSERT_EQ(p.sent.size(), 3u);
  EXPECT_EQ(p.sent[0], (bytes{5, 2, 0, 2}));
  EXPECT_EQ(p.sent[1], (bytes{1, 5, 'a', 'l', 'i', 'c', 'e', 2, 'p', 'w'}));
  EXPECT_EQ(p.sent[2], (bytes{5, 3, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(p.leftover, 0u);
}

TEST(socks5_handshake, a_proxy_that_wants_no_login_gets_none) {
  client_handshake h{true, "alice", "pw", command::connect,
                     v4("10.0.0.1", 443)};
  auto p = play(h, concat({{5, 0}, reply_bound_198_51_100_7_1080}), 4);
  ASSERT_EQ(p.last.what, action::done);
  ASSERT_EQ(p.sent.size(), 2u);
  EXPECT_EQ(p.sent[1], connect_to_10_0_0_1_443);
}

// Each failure ends the exchange with its own error, and it stays ended.
TEST(socks5_handshake, every_failure_is_named_and_final) {
  struct row {
    const char* what;
    bool with_login;
    std::string login;
    bytes answer;
    error expected;
  };
  std::vector<row> rows{
      {"not SOCKS5", false, "", {4, 0}, error::not_socks5},
      {"no method acceptable",
       true,
       "a",
       {5, 0xff},
       error::no_acceptable_method},
      {"a method not offered", false, "", {5, 2}, error::unexpected_method},
      {"login refused", true, "a", {5, 2, 1, 1}, error::auth_rejected},
      {"login reply of another version",
       true,
       "a",
       {5, 2, 2, 0},
       error::bad_auth_version},
      // The proxy picked the login, and there is none to send: the same
      // error for every caller (one of the three copies sent it empty).
      {"an empty login", true, "", {5, 2}, error::credentials_too_long},
      {"a login too long",
       true,
       std::string(256, 'u'),
       {5, 2},
       error::credentials_too_long},
      {"refused", false, "", {5, 0, 5, 5, 0}, error::connection_refused},
      {"unknown address type",
       false,
       "",
       {5, 0, 5, 0, 0, 9},
       error::bad_address_type},
  };
  for (auto& r : rows) {
    client_handshake h{r.with_login, r.login, "pw", command::connect,
                       v4("10.0.0.1", 443)};
    auto p = play(h, r.answer, 1);
    EXPECT_EQ(p.last.what, action::failed) << r.what;
    EXPECT_EQ(p.last.err, r.expected) << r.what;
    EXPECT_EQ(h.current(), client_handshake::stage::failed) << r.what;
    uint8_t more[2] = {5, 0};
    auto again = h.feed(more, 2);
    EXPECT_EQ(again.what, action::failed) << r.what;
    EXPECT_EQ(again.consumed, 0u) << r.what;
  }
}

// The proxy check's way: greeted and logged in first (each step timed),
// then the request once its destination is looked up.
TEST(socks5_handshake, without_a_request_it_waits_ready_for_one) {
  std::string login = "alice", password = "pw";
  client_handshake h{true, login, password};
  uint8_t early[1] = {0};
  auto too_soon = client_handshake{false, "", ""}.request(command::connect,
                                                          v4("10.0.0.1", 443));
  EXPECT_EQ(too_soon.err, error::out_of_order)
      << "a request before the greeting";
  EXPECT_EQ(sent(h.start()), (bytes{5, 2, 0, 2}));
  bytes answer{5, 2};
  auto step = h.feed(answer.data(), answer.size());
  EXPECT_EQ(sent(step).size(), 10u) << "the login";
  bytes accepted{1, 0};
  step = h.feed(accepted.data(), accepted.size());
  EXPECT_EQ(step.what, action::ready);
  EXPECT_EQ(step.consumed, 2u);
  EXPECT_EQ(h.current(), client_handshake::stage::ready);
  EXPECT_EQ(h.feed(early, 0).what, action::ready) << "it stays ready";
  EXPECT_EQ(sent(h.request(command::connect, v4("10.0.0.1", 443))),
            connect_to_10_0_0_1_443);
  step = h.feed(reply_bound_198_51_100_7_1080.data(),
                reply_bound_198_51_100_7_1080.size());
  EXPECT_EQ(step.what, action::done);
  EXPECT_EQ(h.bound().port, 1080);
  EXPECT_EQ(h.request(command::connect, v4("10.0.0.1", 443)).err,
            error::out_of_order)
      << "one request per exchange";
}

// drive(): the callers' loop, writing each message and keeping what
// followed the reply.
TEST(socks5_handshake,
     drive_writes_each_message_and_keeps_the_applications_bytes) {
  client_handshake h{true, "alice", "pw", command::connect,
                     v4("10.0.0.1", 443)};
  std::vector<bytes> written;
  auto write = [&](const uint8_t* b, size_t n) {
    written.emplace_back(b, b + n);
  };
  auto greeting = h.start();
  write(greeting.bytes, greeting.size);
  bytes pending{5, 2, 1};
  EXPECT_EQ(drive(h, pending, write).what, action::need_more);
  EXPECT_EQ(pending, (bytes{1})) << "half the login's reply waits";
  pending.push_back(0);
  pending.insert(pending.end(), reply_bound_198_51_100_7_1080.begin(),
                 reply_bound_198_51_100_7_1080.end());
  pending.push_back('x');
  EXPECT_EQ(drive(h, pending, write).what, action::done);
  EXPECT_EQ(pending, (bytes{'x'}));
  ASSERT_EQ(written.size(), 3u);
  EXPECT_EQ(written[2], connect_to_10_0_0_1_443);
}
