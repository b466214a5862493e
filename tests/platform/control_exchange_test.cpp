// The command line's exchange with the engine (platform::exchange) on
// Linux: its patience is for silence, not for the whole answer, so a stuck
// engine is given up on and a slow stream is not.

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "actors/platform/sockets.hpp"

using namespace drover::platform;
using namespace std::chrono_literals;

namespace {

struct socket_pair {
  int client = -1, engine = -1;
  socket_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0) {
      client = fds[0];
      engine = fds[1];
    }
  }
  ~socket_pair() {
    for (int fd : {client, engine})
      if (fd >= 0)
        ::close(fd);
  }
};

std::string read_request(int fd) {
  char buf[64];
  auto n = ::read(fd, buf, sizeof buf);
  return {buf, static_cast<size_t>(n > 0 ? n : 0)};
}

} // namespace

TEST(control_exchange, an_engine_that_never_answers_is_given_up_on) {
  socket_pair s;
  ASSERT_GE(s.client, 0);
  std::string answer;
  auto asked = std::chrono::steady_clock::now();
  auto end = exchange(
      s.client, "status\n", [&](std::string_view p) { answer += p; }, 300ms);
  auto waited = std::chrono::steady_clock::now() - asked;
  EXPECT_EQ(end, exchange_end::silent);
  EXPECT_EQ(answer, "");
  EXPECT_GE(waited, 290ms);
  EXPECT_LT(waited, 5s);
  EXPECT_EQ(read_request(s.engine), "status\n");
}

TEST(control_exchange, a_slow_answer_that_keeps_coming_is_read_to_its_end) {
  socket_pair s;
  ASSERT_GE(s.client, 0);
  std::thread engine{[&] {
    read_request(s.engine);
    // Five pieces 100 ms apart: 500 ms in all, longer than the patience,
    // never silent for as long.
    for (int i = 0; i < 5; ++i) {
      std::this_thread::sleep_for(100ms);
      (void)!::write(s.engine, "ab", 2);
    }
    ::shutdown(s.engine, SHUT_WR);
  }};
  std::string answer;
  auto end = exchange(
      s.client, "follow\n", [&](std::string_view p) { answer += p; }, 300ms);
  engine.join();
  EXPECT_EQ(end, exchange_end::closed);
  EXPECT_EQ(answer, "ababababab");
}

TEST(control_exchange, no_patience_waits_for_as_long_as_the_stream_lasts) {
  socket_pair s;
  ASSERT_GE(s.client, 0);
  std::thread engine{[&] {
    read_request(s.engine);
    std::this_thread::sleep_for(400ms);
    (void)!::write(s.engine, "event\n", 6);
    ::shutdown(s.engine, SHUT_WR);
  }};
  std::string answer;
  auto end = exchange(
      s.client, "follow\n", [&](std::string_view p) { answer += p; }, 0ms);
  engine.join();
  EXPECT_EQ(end, exchange_end::closed);
  EXPECT_EQ(answer, "event\n");
}

TEST(control_exchange, a_closed_engine_ends_the_exchange_with_what_it_said) {
  socket_pair s;
  ASSERT_GE(s.client, 0);
  (void)!::write(s.engine, "ok\n", 3);
  ::shutdown(s.engine, SHUT_WR);
  std::string answer;
  EXPECT_EQ(
      exchange(
          s.client, "quit\n", [&](std::string_view p) { answer += p; }, 300ms),
      exchange_end::closed);
  EXPECT_EQ(answer, "ok\n");
}
