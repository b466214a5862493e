// The control channel on Windows, for real under wine: the named pipe
// reaches the listener behind it (and nothing else does), and its bridge
// lets every client go once the engine has answered.

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <winsock2.h>
// After winsock2.h, which must come first.
#include <windows.h>

#include "actors/platform/sockets.hpp"

using namespace drover::platform;
using namespace std::chrono_literals;

namespace {

// The broker's side of the control pipe in these tests: the listener in
// blocking mode, one connection accepted (`peer` gets its address).
SOCKET accept_one(socket_handle listener, sockaddr_in* peer = nullptr) {
  u_long off = 0;
  ioctlsocket(static_cast<SOCKET>(listener), static_cast<long>(FIONBIO), &off);
  sockaddr_in ignored{};
  int len = sizeof ignored;
  return accept(static_cast<SOCKET>(listener),
                reinterpret_cast<sockaddr*>(peer ? peer : &ignored), &len);
}

} // namespace

TEST(control_pipe, a_pipe_client_reaches_the_listener_and_a_socket_does_not) {
  SetEnvironmentVariableA("DROVER_CONTROL_PIPE", "drover-test-control");
  auto path = control_socket_path();
  EXPECT_EQ(path, "\\\\.\\pipe\\drover-test-control");
  std::string error;
  auto listener = listen_local(path, error);
  ASSERT_NE(listener, invalid_socket) << error;
  // The broker's side, reduced to an echo that checks admission.
  auto server = std::async(std::launch::async, [listener] {
    std::string seen;
    for (int i = 0; i < 2; ++i) {
      sockaddr_in peer{};
      SOCKET c = accept_one(listener, &peer);
      if (c == INVALID_SOCKET)
        return seen + "accept failed;";
      if (!local_client_admitted(ntohs(peer.sin_port))) {
        seen += "refused;";
        closesocket(c);
        continue;
      }
      char buf[64];
      int n = recv(c, buf, sizeof buf, 0);
      std::string line{buf, static_cast<size_t>(n > 0 ? n : 0)};
      seen += "served " + line;
      std::string answer = "ok " + line;
      send(c, answer.data(), static_cast<int>(answer.size()), 0);
      closesocket(c);
    }
    return seen;
  });
  // A program that finds the loopback listener is not admitted.
  auto direct = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  sockaddr_in at{};
  int len = sizeof at;
  getsockname(static_cast<SOCKET>(listener), reinterpret_cast<sockaddr*>(&at),
              &len);
  ASSERT_EQ(connect(direct, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  // Through the pipe: admitted, and the answer comes back.
  auto client = connect_local(path);
  ASSERT_NE(client, invalid_socket);
  std::string answer;
  EXPECT_EQ(exchange(
                client, "status\n",
                [&](std::string_view piece) { answer += piece; }, 10s),
            exchange_end::closed);
  EXPECT_EQ(answer, "ok status\n");
  close_local(client);
  ASSERT_EQ(server.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(server.get(), "refused;served status\n");
  closesocket(direct);
  // A second engine is refused while this one holds the pipe.
  std::string second;
  EXPECT_EQ(listen_local(path, second), invalid_socket);
  EXPECT_NE(second.find("already running"), std::string::npos) << second;
}

// An engine that takes the request and never answers: the command line
// gives up after its patience instead of waiting for ever (overlapped
// reads, cancelled when late).
TEST(control_pipe, a_silent_engine_is_given_up_on) {
  std::string path = "\\\\.\\pipe\\drover-test-silent";
  std::string error;
  auto listener = listen_local(path, error);
  ASSERT_NE(listener, invalid_socket) << error;
  std::promise<void> over;
  auto test_over = over.get_future().share();
  auto server = std::async(std::launch::async, [listener, test_over] {
    SOCKET c = accept_one(listener);
    if (c == INVALID_SOCKET)
      return std::string{"accept failed"};
    char buf[64];
    int n = recv(c, buf, sizeof buf, 0);
    test_over.wait_for(30s); // silent until the client gave up
    closesocket(c);
    return std::string{buf, static_cast<size_t>(n > 0 ? n : 0)};
  });
  auto client = connect_local(path);
  ASSERT_NE(client, invalid_socket);
  std::string answer;
  auto asked = std::chrono::steady_clock::now();
  auto end = exchange(
      client, "status\n", [&](std::string_view piece) { answer += piece; },
      500ms);
  auto waited = std::chrono::steady_clock::now() - asked;
  close_local(client);
  over.set_value();
  EXPECT_EQ(end, exchange_end::silent);
  EXPECT_EQ(answer, "");
  EXPECT_GE(waited, 450ms);
  EXPECT_LT(waited, 10s);
  ASSERT_EQ(server.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(server.get(), "status\n");
}

// The engine answers and closes; the bridge lets go of the pipe at once,
// and a client that reads only after that still gets the whole answer.
// (The bridge used to disconnect the pipe, which throws away what the
// client has not read yet: under load `drover start` printed nothing
// where it said "ok". And a client that never read held its threads.)
TEST(control_pipe, an_answer_read_after_the_bridge_let_go_is_whole) {
  std::string path = "\\\\.\\pipe\\drover-test-late-reader";
  std::string error;
  auto listener = listen_local(path, error);
  ASSERT_NE(listener, invalid_socket) << error;
  // Most of the pipe's 64 KiB buffer, so it is all written before anyone
  // reads it.
  std::string long_answer(48 * 1024, 'a');
  long_answer += "\nend\n";
  std::promise<uint16_t> bridge_port;
  auto port = bridge_port.get_future();
  auto server = std::async(std::launch::async, [&, listener] {
    sockaddr_in peer{};
    SOCKET c = accept_one(listener, &peer);
    if (c == INVALID_SOCKET)
      return bridge_port.set_value(0);
    char buf[64];
    recv(c, buf, sizeof buf, 0);
    for (size_t sent = 0; sent < long_answer.size();) {
      int n = send(c, long_answer.data() + sent,
                   static_cast<int>(long_answer.size() - sent), 0);
      if (n <= 0)
        break;
      sent += static_cast<size_t>(n);
    }
    closesocket(c);
    bridge_port.set_value(ntohs(peer.sin_port));
  });
  auto client = connect_local(path);
  ASSERT_NE(client, invalid_socket);
  // The request, written without reading anything back.
  auto pipe = reinterpret_cast<HANDLE>(client);
  char request[] = "status\n";
  OVERLAPPED ov{};
  ov.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  DWORD written = 0;
  if (!WriteFile(pipe, request, sizeof request - 1, nullptr, &ov)) {
    ASSERT_EQ(GetLastError(), static_cast<DWORD>(ERROR_IO_PENDING));
  }
  ASSERT_TRUE(GetOverlappedResult(pipe, &ov, &written, TRUE));
  CloseHandle(ov.hEvent);
  ASSERT_EQ(port.wait_for(10s), std::future_status::ready);
  auto bridged = port.get();
  ASSERT_NE(bridged, 0);
  // The bridge lets go of the client (its port no longer admitted) without
  // waiting for the client to read.
  bool let_go = false;
  for (int i = 0; i < 1000 && !let_go; ++i) {
    let_go = !local_client_admitted(bridged);
    if (!let_go)
      std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(let_go) << "the bridge still holds a client that has not read";
  std::string answer;
  EXPECT_EQ(
      exchange(
          client, "", [&](std::string_view piece) { answer += piece; }, 10s),
      exchange_end::closed);
  close_local(client);
  EXPECT_EQ(answer.size(), long_answer.size());
  EXPECT_TRUE(answer == long_answer) << "the answer came back damaged";
}

// Why no connection: no pipe at all, or one whose every instance stays
// taken (`drover status` says which, not "not running" for both).
TEST(control_pipe, says_why_it_gave_no_connection) {
  local_connect_error why;
  why.kind = local_refusal::failed;
  EXPECT_EQ(connect_local("\\\\.\\pipe\\drover-test-nobody-here", &why),
            invalid_socket);
  EXPECT_EQ(why.kind, local_refusal::none_there) << why.text;

  auto name = L"\\\\.\\pipe\\drover-test-one-instance";
  HANDLE only = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1,
                                 4096, 4096, 0, nullptr);
  ASSERT_NE(only, INVALID_HANDLE_VALUE);
  HANDLE first = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                             OPEN_EXISTING, 0, nullptr);
  ASSERT_NE(first, INVALID_HANDLE_VALUE) << GetLastError();
  auto asked = std::chrono::steady_clock::now();
  EXPECT_EQ(
      connect_local("\\\\.\\pipe\\drover-test-one-instance", &why, 1200ms),
      invalid_socket);
  auto waited = std::chrono::steady_clock::now() - asked;
  EXPECT_EQ(why.kind, local_refusal::busy) << why.text;
  EXPECT_GE(waited, 1s) << "an instance may come free: it is waited for";
  EXPECT_LT(waited, 10s);
  CloseHandle(first);
  CloseHandle(only);
}

// Client after client, each answered at once and closed: the bridge lets
// every one go, so each sees the end right after its answer. (A CI run's
// client got its answer, then waited 10 s for the end that never came:
// the engine had answered and closed before the bridge's pipe pump had
// issued its next read, and the other pump's cancellation came before
// that read, so it cancelled nothing. The pumps now share a stop event.)
TEST(control_pipe, every_answered_client_sees_the_end) {
  std::string path = "\\\\.\\pipe\\drover-test-many";
  std::string error;
  auto listener = listen_local(path, error);
  ASSERT_NE(listener, invalid_socket) << error;
  constexpr int clients = 40;
  auto server = std::async(std::launch::async, [listener] {
    int served = 0;
    for (; served < clients; ++served) {
      SOCKET c = accept_one(listener);
      if (c == INVALID_SOCKET)
        break;
      char buf[64];
      int n = recv(c, buf, sizeof buf, 0);
      std::string answer = "ok " + std::string{buf, n > 0 ? size_t(n) : 0};
      send(c, answer.data(), static_cast<int>(answer.size()), 0);
      closesocket(c);
    }
    return served;
  });
  for (int i = 0; i < clients; ++i) {
    auto client = connect_local(path);
    ASSERT_NE(client, invalid_socket) << "client " << i;
    std::string answer;
    auto end = exchange(
        client, "status\n", [&](std::string_view piece) { answer += piece; },
        10s);
    close_local(client);
    ASSERT_EQ(end, exchange_end::closed) << "client " << i;
    ASSERT_EQ(answer, "ok status\n") << "client " << i;
  }
  ASSERT_EQ(server.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(server.get(), clients);
}
