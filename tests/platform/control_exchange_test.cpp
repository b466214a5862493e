// The command line's exchange with the engine (platform::exchange) on
// Linux: its patience is for silence, not for the whole answer, so a stuck
// engine is given up on and a slow stream is not; and why a control socket
// gave no connection (connect_local).

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "actors/platform/sockets.hpp"

using namespace drover::platform;
using namespace std::chrono_literals;

namespace {

// A new empty folder for one test's socket file.
std::filesystem::path fresh_folder(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path()
             / (name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

sockaddr_un address_of(const std::string& path) {
  sockaddr_un at{};
  at.sun_family = AF_UNIX;
  std::snprintf(at.sun_path, sizeof at.sun_path, "%s", path.c_str());
  return at;
}

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

namespace {

// What connect_local() says to the user nobody (a forked child of the
// root test): "connected", "not yours", "none there", or what went wrong.
std::string what_nobody_hears(const std::string& path) {
  pid_t child = ::fork();
  if (child < 0)
    return "cannot fork";
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0)
      ::_exit(10);
    local_connect_error e;
    auto fd = connect_local(path, &e);
    ::_exit(fd != invalid_socket                  ? 11
            : e.kind == local_refusal::not_yours  ? 12
            : e.kind == local_refusal::none_there ? 13
                                                  : 14);
  }
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status))
    return "the child did not end";
  switch (WEXITSTATUS(status)) {
    case 10:
      return "cannot become nobody";
    case 11:
      return "connected";
    case 12:
      return "not yours";
    case 13:
      return "none there";
    default:
      return "another reason";
  }
}

} // namespace

// `drover status` tells "nothing there" from "not yours" (a root engine's
// socket, a user not in its group): the first is no engine, the second one
// the user cannot reach, and saying "not running" then sends them looking
// in the wrong place.
TEST(control_socket, says_why_it_gave_no_connection) {
  namespace fs = std::filesystem;
  auto dir = fresh_folder("drover-refusal");
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_exec
                           | fs::perms::others_exec);
  auto path = (dir / "control.sock").string();

  local_connect_error why;
  why.kind = local_refusal::failed;
  EXPECT_EQ(connect_local(path, &why), invalid_socket);
  EXPECT_EQ(why.kind, local_refusal::none_there) << why.text;

  std::string error;
  auto listener = listen_local(path, error);
  ASSERT_NE(listener, invalid_socket) << error;
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto client = connect_local(path, &why);
  ASSERT_NE(client, invalid_socket) << why.text;
  close_local(client);

  // Another user (the test runs as root; its child becomes nobody).
  if (::geteuid() == 0) {
    EXPECT_EQ(what_nobody_hears(path), "not yours");
  }

  // A stuck engine: it accepts nobody, and its backlog is full. The
  // connect is given up on after its wait, not slept in for ever.
  ASSERT_EQ(::listen(listener, 0), 0);
  auto at = address_of(path);
  std::vector<int> queued; // until the backlog is full (the client above
                           // may already fill it: it was never accepted)
  for (int i = 0; i < 20; ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    queued.push_back(fd);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
      ASSERT_EQ(errno, EAGAIN);
      break;
    }
  }
  auto asked = std::chrono::steady_clock::now();
  EXPECT_EQ(connect_local(path, &why, 300ms), invalid_socket);
  auto waited = std::chrono::steady_clock::now() - asked;
  EXPECT_EQ(why.kind, local_refusal::busy) << why.text;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 5s);
  // Nor is a second engine let take the socket of one that is stuck: the
  // file stays, and it says why.
  std::string second;
  EXPECT_EQ(listen_local(path, second), invalid_socket);
  EXPECT_NE(second.find("seems stuck"), std::string::npos) << second;
  EXPECT_TRUE(fs::exists(path));
  for (int fd : queued)
    ::close(fd);

  // The engine ended and left its socket file: nothing listens.
  close_socket(listener);
  ASSERT_TRUE(fs::exists(path));
  EXPECT_EQ(connect_local(path, &why), invalid_socket);
  EXPECT_EQ(why.kind, local_refusal::none_there) << why.text;
  // The same for another user, who may not use the file (a crashed root
  // engine's): nothing runs, not "not yours to use".
  if (::geteuid() == 0) {
    EXPECT_EQ(what_nobody_hears(path), "none there");
  }
  fs::remove_all(dir);
}

// A clean exit removes the socket file this process made, never a file a
// later engine made at the same path (this one's deleted meanwhile).
TEST(control_socket, a_clean_exit_removes_its_own_file_only) {
  namespace fs = std::filesystem;
  auto dir = fresh_folder("drover-own-socket");
  auto path = (dir / "control.sock").string();
  std::string error;
  auto listener = listen_local(path, error);
  ASSERT_NE(listener, invalid_socket) << error;
  close_socket(listener);
  remove_local(path);
  EXPECT_FALSE(fs::exists(path));

  listener = listen_local(path, error);
  ASSERT_NE(listener, invalid_socket) << error;
  // Deleted (someone cleaned the folder), and another engine listens
  // there now.
  fs::remove(path);
  int other = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto at = address_of(path);
  ASSERT_EQ(::bind(other, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  close_socket(listener);
  remove_local(path);
  EXPECT_TRUE(fs::exists(path)) << "the other engine's stays";
  ::close(other);
  fs::remove_all(dir);
}
