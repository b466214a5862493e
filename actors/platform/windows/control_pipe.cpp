// The control channel on Windows: a named pipe (what the tray's
// QLocalSocket speaks there), admitted by the pipe's access list, bridged
// to the control server's CAF broker, which serves sockets only.
//
// Each pipe client gets a loopback TCP connection into the broker's
// listener and two pump threads. The listener is on 127.0.0.1, where any
// local program could reach it, so the broker admits only connections
// whose source port the bridge registered (local_client_admitted): the
// pipe's access list stays the only way in. The port also says which
// process is at the pipe's other end (the kernel's word, for `run`).

#include <winsock2.h>
#include <ws2tcpip.h>
// After winsock2.h (a separate block keeps clang-format from sorting them).
#include <sddl.h>
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "actors/platform/sockets.hpp"
#include "actors/platform/windows/invoking_user.hpp"
#include "actors/platform/windows/win32.hpp"

namespace drover::platform {

namespace {

struct admitted_ports {
  std::mutex mutex;
  std::map<uint16_t, uint32_t> ports; // bridge's port -> the client's PID
};

admitted_ports& admitted() {
  static admitted_ports a;
  return a;
}

// Who may open the pipe: SYSTEM, administrators, the user this process
// runs as, and the user it works for (invoking_user.hpp: a standard user
// who elevated with an administrator's password runs the tray as
// themselves). Remote clients are refused by the pipe's flags. Integrity:
// medium, so the user's unelevated tray may write to an elevated engine's
// pipe.
struct pipe_security {
  SECURITY_ATTRIBUTES attributes{};
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  std::string who;

  pipe_security() {
    std::wstring user;
    HANDLE token = nullptr;
    if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) {
      DWORD size = 0;
      GetTokenInformation(token, TokenUser, nullptr, 0, &size);
      std::unique_ptr<char[]> buf{new char[size > 0 ? size : 1]};
      wchar_t* sid = nullptr;
      if (size > 0
          && GetTokenInformation(token, TokenUser, buf.get(), size, &size)
          && ConvertSidToStringSidW(
              reinterpret_cast<TOKEN_USER*>(buf.get())->User.Sid, &sid)) {
        user = sid;
        LocalFree(sid);
      }
      CloseHandle(token);
    }
    auto invoker = windows_port::the_invoking_user();
    auto dacl = windows_port::control_pipe_dacl(
        user, invoker ? invoker->sid : std::wstring{}, who);
    // The user it works for checks that this is Drover before writing
    // (pipe_server_is_drover), which another account's process would not
    // let them do.
    if (invoker != nullptr && invoker->sid != user
        && !windows_port::let_look_at_this_process(invoker->sid))
      who += " (who cannot check this engine: its process refused them)";
    for (auto sddl : {dacl + L"S:(ML;;NW;;;ME)", dacl})
      if (ConvertStringSecurityDescriptorToSecurityDescriptorW(
              sddl.c_str(), SDDL_REVISION_1, &descriptor, nullptr))
        break;
    attributes.nLength = sizeof attributes;
    attributes.lpSecurityDescriptor = descriptor;
    attributes.bInheritHandle = FALSE;
  }
  ~pipe_security() {
    if (descriptor != nullptr)
      LocalFree(descriptor);
  }
};

pipe_security& security() {
  static pipe_security s;
  return s;
}

HANDLE new_instance(const std::wstring& name, bool first) {
  DWORD open = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED;
  if (first)
    open |= FILE_FLAG_FIRST_PIPE_INSTANCE;
  return CreateNamedPipeW(name.c_str(), open,
                          PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT
                              | PIPE_REJECT_REMOTE_CLIENTS,
                          PIPE_UNLIMITED_INSTANCES, 65536, 65536, 0,
                          &security().attributes);
}

enum class pipe_io_result { done, late, ended };

// One overlapped operation's memory, its own: the OS may write into it
// until the operation lands.
struct pipe_operation {
  OVERLAPPED ov{};
  std::vector<char> buffer;
  explicit pipe_operation(DWORD size) : buffer(size) {}
  ~pipe_operation() {
    if (ov.hEvent)
      CloseHandle(ov.hEvent);
  }
  pipe_operation(const pipe_operation&) = delete;
  pipe_operation& operator=(const pipe_operation&) = delete;
};

// How long a cancelled operation may take to land before it is left to
// itself. Windows lands a cancellation at once; wine was seen not to (a
// CI run's `drover status` test hung there for its whole 300 s).
constexpr DWORD cancel_landing_ms = 5000;

// Overlapped I/O waited for at once: the two pump threads read and write
// the same pipe handle at the same time, which synchronous I/O on one
// handle would serialise (a pending read would block every write). An
// operation that takes longer than `wait_ms`, or is still pending when
// `stop` is set, is cancelled: a command line must not hang on a stuck
// engine, and a pump must not outlive its partner. `stop` is an event,
// not a cancellation from the other thread, because a cancellation that
// comes before the operation is issued cancels nothing: the pump would
// then wait for a client that is itself waiting for the end.
pipe_io_result pipe_io(HANDLE pipe, bool write, void* data, DWORD size,
                       DWORD& done, DWORD wait_ms = INFINITE,
                       HANDLE stop = nullptr) {
  auto op = std::make_unique<pipe_operation>(size);
  op->ov.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (!op->ov.hEvent)
    return pipe_io_result::ended;
  if (write)
    std::memcpy(op->buffer.data(), data, size);
  BOOL ok = write ? WriteFile(pipe, op->buffer.data(), size, nullptr, &op->ov)
                  : ReadFile(pipe, op->buffer.data(), size, nullptr, &op->ov);
  if (!ok && GetLastError() != ERROR_IO_PENDING)
    return pipe_io_result::ended;
  HANDLE events[] = {op->ov.hEvent, stop};
  bool late
      = WaitForMultipleObjects(stop != nullptr ? 2 : 1, events, FALSE, wait_ms)
        != WAIT_OBJECT_0;
  if (late) {
    CancelIoEx(pipe, &op->ov);
    if (WaitForSingleObject(op->ov.hEvent, cancel_landing_ms) == WAIT_TIMEOUT) {
      // Not landed: its memory stays its own (leaked, a few KiB once in a
      // command line's life), and the caller gives the pipe up.
      (void)op.release();
      return pipe_io_result::late;
    }
  }
  // Landed, or (no patience given) waited for here. An operation that
  // finished first still counts.
  ok = GetOverlappedResult(pipe, &op->ov, &done, TRUE);
  if (ok && done > 0) {
    if (!write)
      std::memcpy(data, op->buffer.data(), done);
    return pipe_io_result::done;
  }
  return late ? pipe_io_result::late : pipe_io_result::ended;
}

// One client: its pipe instance and its connection into the broker. The
// first pump to end ends the other; the last one out closes both.
struct bridged_client {
  HANDLE pipe;
  SOCKET socket;
  uint16_t port;
  // Set once, when either pump ends: the other's pipe operation, pending
  // or about to be issued, is cancelled (pipe_io).
  HANDLE stop = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  std::atomic<bool> ended{false};

  void end() {
    if (ended.exchange(true))
      return;
    shutdown(socket, SD_BOTH);
    if (stop != nullptr)
      SetEvent(stop);
    else
      CancelIoEx(pipe, nullptr); // no event: at least what is pending now
  }

  ~bridged_client() {
    if (stop != nullptr)
      CloseHandle(stop);
    {
      std::lock_guard<std::mutex> guard{admitted().mutex};
      admitted().ports.erase(port);
    }
    closesocket(socket);
    // Closed, never disconnected: what the client has not read yet stays
    // for it to read, then it sees the end (a broken pipe). Disconnecting
    // throws that away, and FlushFileBuffers first would wait, without
    // limit, for a client that may never read (two threads and the pipe
    // held for ever). Each client has an instance of its own, so none is
    // reused.
    CloseHandle(pipe);
  }
};

void pipe_to_socket(std::shared_ptr<bridged_client> c) {
  char buf[4096];
  DWORD n = 0;
  while (pipe_io(c->pipe, false, buf, sizeof buf, n, INFINITE, c->stop)
         == pipe_io_result::done) {
    for (DWORD off = 0; off < n;) {
      int sent = send(c->socket, buf + off, static_cast<int>(n - off), 0);
      if (sent <= 0)
        return c->end();
      off += static_cast<DWORD>(sent);
    }
  }
  c->end();
}

void socket_to_pipe(std::shared_ptr<bridged_client> c) {
  char buf[4096];
  int n;
  while ((n = recv(c->socket, buf, sizeof buf, 0)) > 0) {
    DWORD done = 0;
    for (DWORD off = 0; off < static_cast<DWORD>(n); off += done)
      if (pipe_io(c->pipe, true, buf + off, static_cast<DWORD>(n) - off, done,
                  INFINITE, c->stop)
          != pipe_io_result::done)
        return c->end();
  }
  // The server answered and closed: so does the bridge (the client reads
  // the rest after that, ~bridged_client).
  c->end();
}

void serve_client(HANDLE pipe, uint16_t broker_port) {
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int len = sizeof local;
  // Bound first, so the port is registered before the broker can see the
  // connection; exclusively, so no other program can bind the same port
  // with SO_REUSEADDR and connect from it before the bridge does (it
  // would be admitted as this pipe client).
  BOOL exclusive = TRUE;
  if (s == INVALID_SOCKET
      || setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE,
                    reinterpret_cast<const char*>(&exclusive), sizeof exclusive)
             != 0
      || bind(s, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0
      || getsockname(s, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    if (s != INVALID_SOCKET)
      closesocket(s);
    DisconnectNamedPipe(pipe);
    CloseHandle(pipe);
    return;
  }
  auto c = std::make_shared<bridged_client>();
  c->pipe = pipe;
  c->socket = s;
  c->port = ntohs(local.sin_port);
  ULONG client = 0; // 0: unknown (then nothing is put in place for it)
  if (!GetNamedPipeClientProcessId(pipe, &client))
    client = 0;
  {
    std::lock_guard<std::mutex> guard{admitted().mutex};
    admitted().ports[c->port] = static_cast<uint32_t>(client);
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(broker_port);
  if (connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
    return; // c's destructor closes both
  std::thread{socket_to_pipe, c}.detach();
  pipe_to_socket(std::move(c));
}

void accept_clients(std::wstring name, HANDLE first, uint16_t broker_port) {
  HANDLE pipe = first;
  for (;;) {
    OVERLAPPED ov{};
    ov.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    BOOL connected = ConnectNamedPipe(pipe, &ov);
    DWORD error = connected ? ERROR_SUCCESS : GetLastError();
    if (error == ERROR_IO_PENDING) {
      DWORD ignored = 0;
      error = GetOverlappedResult(pipe, &ov, &ignored, TRUE) ? ERROR_SUCCESS
                                                             : GetLastError();
    }
    CloseHandle(ov.hEvent);
    if (error == ERROR_SUCCESS || error == ERROR_PIPE_CONNECTED)
      std::thread{serve_client, pipe, broker_port}.detach();
    else
      CloseHandle(pipe);
    // The next client's instance.
    pipe = INVALID_HANDLE_VALUE;
    for (int attempt = 0; pipe == INVALID_HANDLE_VALUE; ++attempt) {
      pipe = new_instance(name, false);
      if (pipe == INVALID_HANDLE_VALUE)
        Sleep(attempt < 10 ? 10 : 1000); // out of resources: back off
    }
  }
}

// A program's full path, or empty.
std::wstring image_of(HANDLE process) {
  wchar_t path[32768];
  DWORD size = sizeof path / sizeof path[0];
  return QueryFullProcessImageNameW(process, 0, path, &size)
             ? std::wstring{path, size}
             : std::wstring{};
}

bool elevated(HANDLE process) {
  HANDLE token = nullptr;
  if (!OpenProcessToken(process, TOKEN_QUERY, &token))
    return false;
  TOKEN_ELEVATION elevation{};
  DWORD size = 0;
  bool yes = GetTokenInformation(token, TokenElevation, &elevation,
                                 sizeof elevation, &size)
             && elevation.TokenIsElevated != 0;
  CloseHandle(token);
  return yes;
}

bool pipe_server_is_drover(HANDLE pipe, std::string& why) {
  ULONG pid = 0;
  if (!GetNamedPipeServerProcessId(pipe, &pid)) {
    why = "cannot tell which program serves Drover's control pipe";
    return false;
  }
  HANDLE server = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (server == nullptr) {
    why = "cannot look at the program (process " + std::to_string(pid)
          + ") that serves Drover's control pipe";
    return false;
  }
  auto theirs = image_of(server);
  bool admin = elevated(server);
  CloseHandle(server);
  auto ours = image_of(GetCurrentProcess());
  bool same
      = !theirs.empty() && !ours.empty()
        && CompareStringOrdinal(theirs.c_str(), -1, ours.c_str(), -1, TRUE)
               == CSTR_EQUAL;
  auto who = (theirs.empty() ? std::string{"an unknown program"}
                             : windows_port::to_utf8(theirs))
             + " (process " + std::to_string(pid) + ")";
  if (!same) {
    why = "Drover's control pipe is held by another program, " + who
          + ": it is not Drover, so nothing is sent to it. Close that "
            "program (or restart Windows) and start Drover again";
    return false;
  }
  if (!admin) {
    why = "Drover's control pipe is served by " + who
          + " without administrator rights: that is not a Drover engine, "
            "so nothing is sent to it";
    return false;
  }
  return true;
}

HANDLE open_pipe_client(const std::wstring& name, std::chrono::milliseconds wait
                                                  = std::chrono::seconds{10}) {
  auto end = std::chrono::steady_clock::now() + wait;
  for (;;) {
    // Identification at most: whatever serves the pipe may learn who
    // connects, never act as them.
    HANDLE h = CreateFileW(
        name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
        SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION | FILE_FLAG_OVERLAPPED,
        nullptr);
    if (h != INVALID_HANDLE_VALUE)
      return h;
    // Every instance busy for a moment (a client between two instances):
    // wait for the next one.
    if (GetLastError() != ERROR_PIPE_BUSY)
      return INVALID_HANDLE_VALUE;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    if (!WaitNamedPipeW(name.c_str(), static_cast<DWORD>(
                                          std::min<int64_t>(left.count(), 500)))
        && GetLastError() != ERROR_SEM_TIMEOUT)
      return INVALID_HANDLE_VALUE; // the pipe is gone
  }
  SetLastError(ERROR_PIPE_BUSY); // every wait ended with the pipe taken again
  return INVALID_HANDLE_VALUE;
}

} // namespace

void remove_local(const std::string&) {}

socket_handle listen_local(const std::string& path, std::string& error) {
  auto name = windows_port::to_wide(path);
  // Whatever answers on the name: another Drover, or a program that is not
  // Drover (named, so the user can close it).
  auto held_by_other = [&] {
    HANDLE other = open_pipe_client(name);
    if (other == INVALID_HANDLE_VALUE)
      return false;
    std::string why;
    error = pipe_server_is_drover(other, why)
                ? "another Drover is already running here (" + path + ")"
                : why;
    CloseHandle(other);
    return true;
  };
  if (held_by_other())
    return invalid_socket;
  net::endpoint at{net::ipv4_address{0x7f000001}, 0};
  auto listener = listen_tcp(at, error);
  if (listener == invalid_socket)
    return invalid_socket;
  HANDLE first = new_instance(name, true);
  if (first == INVALID_HANDLE_VALUE) {
    auto code = GetLastError();
    close_socket(listener);
    // Taken since the look above (its holder was between two clients, or
    // started just now): name it if it answers now.
    if (code == ERROR_ACCESS_DENIED && held_by_other())
      return invalid_socket;
    error = code == ERROR_ACCESS_DENIED
                ? "another Drover is already running here, or another "
                  "program holds its control pipe ("
                      + path + ")"
                : "cannot open the control pipe " + path + ": "
                      + windows_port::error_text(code);
    return invalid_socket;
  }
  // Runs for the rest of the process, like the broker it feeds.
  std::thread{accept_clients, name, first, at.port}.detach();
  return listener;
}

bool control_client_may_configure(socket_handle) {
  return true; // the pipe's access list admits only those who may
}

uint32_t control_client_user(socket_handle) {
  return unknown_control_user; // behind the pipe bridge: one allowance for all
}

uint32_t control_client_process(socket_handle s) {
  // The broker's end of the bridge's connection: its peer port is the one
  // the bridge registered for that pipe client.
  sockaddr_in peer{};
  int len = sizeof peer;
  if (getpeername(static_cast<SOCKET>(s), reinterpret_cast<sockaddr*>(&peer),
                  &len)
      != 0)
    return 0;
  std::lock_guard<std::mutex> guard{admitted().mutex};
  auto at = admitted().ports.find(ntohs(peer.sin_port));
  return at == admitted().ports.end() ? 0 : at->second;
}

bool local_client_admitted(uint16_t peer_port) {
  std::lock_guard<std::mutex> guard{admitted().mutex};
  return admitted().ports.count(peer_port) > 0;
}

socket_handle connect_local(const std::string& path, local_connect_error* error,
                            std::chrono::milliseconds wait) {
  HANDLE h = open_pipe_client(windows_port::to_wide(path), wait);
  if (h != INVALID_HANDLE_VALUE)
    return reinterpret_cast<socket_handle>(h);
  auto code = GetLastError();
  if (error != nullptr) {
    switch (code) {
      case ERROR_FILE_NOT_FOUND:
      case ERROR_PATH_NOT_FOUND:
        error->kind = local_refusal::none_there;
        break;
      case ERROR_ACCESS_DENIED:
        error->kind = local_refusal::not_yours;
        break;
      case ERROR_PIPE_BUSY:
      case ERROR_SEM_TIMEOUT: // WaitNamedPipe's: no instance came free
        error->kind = local_refusal::busy;
        break;
      default:
        error->kind = local_refusal::failed;
    }
    error->text = windows_port::error_text(code);
  }
  return invalid_socket;
}

void close_local(socket_handle s) {
  if (s != invalid_socket)
    CloseHandle(reinterpret_cast<HANDLE>(s));
}

bool local_server_is_drover(socket_handle s, std::string& why) {
  return pipe_server_is_drover(reinterpret_cast<HANDLE>(s), why);
}

intptr_t hold_local_server(socket_handle s) {
  ULONG pid = 0;
  if (!GetNamedPipeServerProcessId(reinterpret_cast<HANDLE>(s), &pid))
    return -1;
  HANDLE process = OpenProcess(SYNCHRONIZE, FALSE, pid);
  return process ? reinterpret_cast<intptr_t>(process) : -1;
}

bool await_local_server_exit(intptr_t held, std::chrono::milliseconds timeout) {
  if (held == -1)
    return false;
  auto process = reinterpret_cast<HANDLE>(held);
  bool ended = WaitForSingleObject(process, static_cast<DWORD>(timeout.count()))
               == WAIT_OBJECT_0;
  CloseHandle(process);
  return ended;
}

exchange_end exchange(socket_handle s, const std::string& data,
                      const std::function<void(std::string_view)>& on_data,
                      std::chrono::milliseconds patience) {
  auto pipe = reinterpret_cast<HANDLE>(s);
  DWORD wait
      = patience.count() > 0 ? static_cast<DWORD>(patience.count()) : INFINITE;
  std::string request = data; // pipe_io's buffer is a writable one
  DWORD n = 0;
  for (size_t sent = 0; sent < request.size(); sent += n)
    switch (pipe_io(pipe, true, request.data() + sent,
                    static_cast<DWORD>(request.size() - sent), n, wait)) {
      case pipe_io_result::done:
        break;
      case pipe_io_result::late:
        return exchange_end::silent;
      case pipe_io_result::ended:
        return exchange_end::broken;
    }
  char buf[4096];
  for (;;)
    switch (pipe_io(pipe, false, buf, sizeof buf, n, wait)) {
      case pipe_io_result::done:
        on_data({buf, n});
        break;
      case pipe_io_result::late:
        return exchange_end::silent;
      case pipe_io_result::ended:
        return exchange_end::closed; // the engine closed its end
    }
}

std::string control_socket_path() {
  // One engine per machine (WinDivert sees every session's traffic).
  // DROVER_CONTROL_PIPE lets tests run engines side by side.
  char name[128];
  auto n = GetEnvironmentVariableA("DROVER_CONTROL_PIPE", name, sizeof name);
  if (n > 0 && n < sizeof name)
    return std::string{"\\\\.\\pipe\\"} + name;
  return "\\\\.\\pipe\\drover-control";
}

std::vector<std::string> control_socket_candidates() {
  return {control_socket_path()};
}

std::string share_control_socket(const std::string&) {
  auto who = security().who;
  if (auto invoker = windows_port::the_invoking_user())
    who += "; works for " + windows_port::to_utf8(invoker->sid) + ", found as "
           + invoker->source
           + ": the config is read and written with that "
             "user's rights, and `drover run` starts programs as that user, "
             "unelevated";
  return who;
}

} // namespace drover::platform
