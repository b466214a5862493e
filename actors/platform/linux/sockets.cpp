#include "actors/platform/sockets.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

namespace drover::platform {

namespace {

sockaddr_in to_sockaddr(net::endpoint e) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(e.port);
  a.sin_addr.s_addr = htonl(e.ip.value);
  return a;
}

// A non-blocking TCP listener at `at` (port 0: any free one, written back),
// or -1 with errno set.
int open_listener(net::endpoint& at, int backlog) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = to_sockaddr(at);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0
      || ::listen(fd, backlog) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  at.port = ntohs(a.sin_port);
  return fd;
}

} // namespace

socket_handle listen_tcp(net::endpoint& at, std::string& error) {
  int fd = open_listener(at, 1024);
  if (fd < 0)
    error = std::string{"cannot listen on "} + net::to_string(at.ip) + ": "
            + std::strerror(errno);
  return fd < 0 ? invalid_socket : fd;
}

socket_handle listen_for_redirects(net::endpoint& at, std::string& error) {
  // From the top of the privileged range down: ports there are rarely
  // used on loopback, and the same one comes back after a restart.
  for (uint16_t port = 1023; port >= 900; --port) {
    net::endpoint try_at{at.ip, port};
    int fd = open_listener(try_at, SOMAXCONN);
    if (fd >= 0) {
      at = try_at;
      return fd;
    }
    if (errno != EADDRINUSE) {
      error = std::string{"cannot listen on "} + net::to_string(at.ip) + ":"
              + std::to_string(port) + ": " + std::strerror(errno)
              + (errno == EACCES ? " (the engine needs CAP_NET_BIND_SERVICE, "
                                   "as root has and the service unit grants)"
                                 : "");
      return invalid_socket;
    }
  }
  error
      = "every port from 900 to 1023 on " + net::to_string(at.ip) + " is taken";
  return invalid_socket;
}

socket_handle open_datagram_intake(net::endpoint& at, std::string& error) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return invalid_socket;
  }
  // Transparent: TPROXY delivers to such sockets only (so no unprivileged
  // program can take the targets' datagrams), with each datagram's
  // original destination beside it.
  int one = 1;
  if (::setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one) != 0
      || ::setsockopt(fd, SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof one) != 0) {
    error = std::string{"a transparent socket: "} + std::strerror(errno);
    ::close(fd);
    return invalid_socket;
  }
  // Room for a burst, and the kernel's count of what did not fit beside
  // each datagram (SO_RXQ_OVFL), so such drops are counted too.
  int buffer = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer);
  ::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  // The TCP listener's port if free for UDP too, else the next one down.
  for (uint16_t port = at.port != 0 ? at.port : 1023; port >= 900; --port) {
    auto a = to_sockaddr({at.ip, port});
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      at.port = port;
      return fd;
    }
    if (errno != EADDRINUSE)
      break;
  }
  error = std::string{"cannot bind UDP on "} + net::to_string(at.ip) + ": "
          + std::strerror(errno);
  ::close(fd);
  return invalid_socket;
}

socket_handle start_tcp_connect(net::endpoint to, std::string& error) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return invalid_socket;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto a = to_sockaddr(to);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0
      && errno != EINPROGRESS) {
    error = std::strerror(errno);
    ::close(fd);
    return invalid_socket;
  }
  return fd;
}

socket_handle duplicate_socket(socket_handle s) {
  return ::fcntl(s, F_DUPFD_CLOEXEC, 0);
}

void enable_keepalive(socket_handle s, std::chrono::seconds idle,
                      std::chrono::seconds interval, int count) {
  int on = 1;
  int idle_s = static_cast<int>(idle.count());
  int interval_s = static_cast<int>(interval.count());
  ::setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
  ::setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s);
  ::setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

std::string last_socket_error() {
  return std::strerror(errno);
}

bool out_of_descriptors() {
  return errno == EMFILE || errno == ENFILE;
}

void close_socket(socket_handle s) {
  if (s >= 0)
    ::close(s);
}

void cut_connection(socket_handle s) {
  if (s >= 0)
    ::shutdown(s, SHUT_RDWR);
}

std::optional<net::endpoint> peer_of(socket_handle s) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getpeername(s, reinterpret_cast<sockaddr*>(&a), &len) != 0
      || a.sin_family != AF_INET)
    return std::nullopt;
  return net::endpoint{net::ipv4_address{ntohl(a.sin_addr.s_addr)},
                       ntohs(a.sin_port)};
}

std::optional<net::endpoint> local_of(socket_handle s) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0
      || a.sin_family != AF_INET)
    return std::nullopt;
  return net::endpoint{net::ipv4_address{ntohl(a.sin_addr.s_addr)},
                       ntohs(a.sin_port)};
}

size_t write_socket_address(net::endpoint e, void* out, size_t capacity) {
  auto a = to_sockaddr(e);
  if (capacity < sizeof a)
    return 0;
  std::memcpy(out, &a, sizeof a);
  return sizeof a;
}

socket_handle connected_udp(net::ipv4_address local, net::endpoint peer,
                            std::string& error) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return invalid_socket;
  }
  auto here = to_sockaddr({local, 0});
  auto there = to_sockaddr(peer);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&here), sizeof here) != 0
      || ::connect(fd, reinterpret_cast<sockaddr*>(&there), sizeof there)
             != 0) {
    error = std::strerror(errno);
    ::close(fd);
    return invalid_socket;
  }
  return fd;
}

bool has_route_to(net::ipv4_address ip) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  // A UDP connect() only looks the route up.
  auto a = to_sockaddr({ip, 9});
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::optional<net::ipv4_address> resolve_ipv4(const std::string& host,
                                              std::string& error) {
  if (auto literal = net::parse_ipv4(host))
    return literal;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    error = "cannot resolve " + host + ": " + ::gai_strerror(rc);
    return std::nullopt;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(res->ai_addr);
  net::ipv4_address ip{ntohl(a->sin_addr.s_addr)};
  ::freeaddrinfo(res);
  return ip;
}

} // namespace drover::platform

#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include "actors/platform/linux/system.hpp"

namespace drover::platform {

namespace {

bool unix_address(const std::string& path, sockaddr_un& a) {
  a = {};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path)
    return false;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return true;
}

} // namespace

bool local_client_admitted(uint16_t) {
  return true;
}

bool control_client_may_configure(socket_handle s) {
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(s, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0)
    return false;
  auto user = linux_port::invoking_user();
  uid_t owner = user ? user->first : ::geteuid();
  return peer.uid == 0 || peer.uid == owner;
}

uint32_t control_client_user(socket_handle s) {
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(s, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0)
    return unknown_control_user; // unknown: shares one allowance with all
                                 // unknowns
  return peer.uid;
}

uint32_t control_client_process(socket_handle s) {
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(s, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0
      || peer.pid <= 0)
    return 0;
  return static_cast<uint32_t>(peer.pid);
}

void close_local(socket_handle s) {
  close_socket(s);
}

bool local_server_is_drover(socket_handle, std::string&) {
  return true; // see the declaration: only root or the user can listen there
}

intptr_t hold_local_server(socket_handle s) {
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(s, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0
      || peer.pid <= 0)
    return -1;
  // A pidfd names that process and no other, whatever reuses its ID.
  long fd = ::syscall(SYS_pidfd_open, peer.pid, 0);
  return fd < 0 ? -1 : static_cast<intptr_t>(fd);
}

bool await_local_server_exit(intptr_t held, std::chrono::milliseconds timeout) {
  if (held < 0)
    return false;
  pollfd p{static_cast<int>(held), POLLIN, 0};
  int rc;
  do
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  while (rc < 0 && errno == EINTR);
  ::close(static_cast<int>(held));
  return rc == 1; // readable: the process has ended
}

namespace {

// Whether a socket of this network namespace listens at `path`, as
// /proc/net/unix (readable by every user) lists them; true when that
// cannot be read, so a caller never takes a live engine for gone.
bool listening_at(const std::string& path) {
  std::ifstream in{"/proc/net/unix"};
  if (!in)
    return true;
  std::string line;
  std::getline(in, line); // the header
  while (std::getline(in, line)) {
    // Num RefCount Protocol Flags Type St Inode Path
    std::istringstream fields{line};
    std::string num, refs, protocol, flags, type, state, inode;
    if (!(fields >> num >> refs >> protocol >> flags >> type >> state >> inode))
      continue;
    std::string name;
    std::getline(fields >> std::ws, name);
    constexpr unsigned long accepting = 0x10000; // __SO_ACCEPTCON
    if (name == path
        && (std::strtoul(flags.c_str(), nullptr, 16) & accepting) != 0)
      return true;
  }
  return false;
}

} // namespace

socket_handle connect_local(const std::string& path, local_connect_error* error,
                            std::chrono::milliseconds wait) {
  auto refused = [&](int code) {
    if (error == nullptr)
      return invalid_socket;
    switch (code) {
      case ENOENT:
      case ENOTDIR:
      case ECONNREFUSED: // a socket file nobody listens on: a run that ended
        error->kind = local_refusal::none_there;
        break;
      case EACCES:
      case EPERM:
        // Not this user's to use; unless nothing listens there: the file
        // of another user's Drover that ended (a crashed root engine's).
        error->kind = listening_at(path) ? local_refusal::not_yours
                                         : local_refusal::none_there;
        break;
      case EAGAIN: // its backlog is full
        error->kind = local_refusal::busy;
        break;
      default:
        error->kind = local_refusal::failed;
    }
    error->text = std::strerror(code);
    return invalid_socket;
  };
  sockaddr_un a;
  if (!unix_address(path, a))
    return refused(ENAMETOOLONG);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return refused(errno);
  // A blocking connect to a socket whose backlog is full sleeps until the
  // server accepts: for ever, when the engine is stuck. The send timeout
  // bounds it (then EAGAIN), and is lifted for the exchange.
  auto timeout = [fd](std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000),
               static_cast<suseconds_t>(t.count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  };
  timeout(std::max(wait, std::chrono::milliseconds{1}));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int code = errno;
    ::close(fd);
    return refused(code);
  }
  timeout(std::chrono::milliseconds{0});
  return fd;
}

namespace {

// The socket files this process made, by path: what remove_local() may
// remove (a file that is still this one: its inode, and its change time,
// since a file system may give a deleted file's inode to the next one).
struct made_file {
  dev_t device;
  ino_t inode;
  timespec changed;
  bool is(const struct stat& st) const {
    return st.st_dev == device && st.st_ino == inode
           && st.st_ctim.tv_sec == changed.tv_sec
           && st.st_ctim.tv_nsec == changed.tv_nsec;
  }
};
std::mutex made_files_mutex;
std::map<std::string, made_file> made_files;

// Remembers the file at `path` as this process made it, or (`changed`)
// as it changed the one it made.
void note_made_file(const std::string& path, bool changed = false) {
  struct stat made {};
  std::lock_guard<std::mutex> lock{made_files_mutex};
  if ((changed && made_files.count(path) == 0)
      || ::lstat(path.c_str(), &made) != 0)
    return;
  made_files[path] = {made.st_dev, made.st_ino, made.st_ctim};
}

} // namespace

void remove_local(const std::string& path) {
  std::lock_guard<std::mutex> lock{made_files_mutex};
  auto made = made_files.find(path);
  if (made == made_files.end())
    return;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)
      && made->second.is(st))
    ::unlink(path.c_str());
  made_files.erase(made);
}

socket_handle listen_local(const std::string& path, std::string& error) {
  sockaddr_un a;
  if (!unix_address(path, a)) {
    error = "control socket path too long: " + path;
    return invalid_socket;
  }
  // A running engine accepts within milliseconds; one that takes nobody
  // for 2 s is stuck, not slow.
  local_connect_error other_said;
  if (auto other = connect_local(path, &other_said, std::chrono::seconds{2});
      other != invalid_socket) {
    ::close(other);
    error = "another Drover is already running here (" + path + ")";
    return invalid_socket;
  }
  // A socket whose engine takes no client is a stuck Drover's, still
  // running: not replaced, or two engines would fight over the same
  // packets. Anything else is a crashed run's leftover, replaced; that
  // includes one this engine may not connect to (a previous engine shared
  // it with its user, and the service unit's root lacks CAP_DAC_OVERRIDE).
  if (other_said.kind == local_refusal::busy) {
    error = "another Drover is already running here (" + path
            + "), and it takes no client: it seems stuck; end it first";
    return invalid_socket;
  }
  ::unlink(path.c_str()); // a leftover of a crashed run
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  // The socket is created owner-only, with no window where others could
  // connect.
  auto old = ::umask(0177);
  bool ok = fd >= 0
            && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0
            && ::listen(fd, 16) == 0;
  ::umask(old);
  if (!ok) {
    error = "cannot open the control socket " + path + ": "
            + std::strerror(errno);
    if (fd >= 0)
      ::close(fd);
    return invalid_socket;
  }
  note_made_file(path);
  return fd;
}

exchange_end exchange(socket_handle s, const std::string& data,
                      const std::function<void(std::string_view)>& on_data,
                      std::chrono::milliseconds patience) {
  size_t sent = 0;
  while (sent < data.size()) {
    auto n = ::send(s, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return exchange_end::broken;
    sent += static_cast<size_t>(n);
  }
  // No half-close here: the request ends with its newline, and a CAF 0.17
  // broker drops a connection on EOF before it could answer.
  int wait_ms = patience.count() > 0 ? static_cast<int>(patience.count()) : -1;
  char buf[4096];
  for (;;) {
    pollfd p{s, POLLIN, 0};
    auto ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR)
      continue; // the silence starts again: a signal is not the engine's
    if (ready == 0)
      return exchange_end::silent;
    if (ready < 0)
      return exchange_end::broken;
    auto n = ::recv(s, buf, sizeof buf, 0);
    if (n > 0)
      on_data({buf, static_cast<size_t>(n)});
    else if (n == 0)
      return exchange_end::closed;
    else if (errno != EINTR)
      return exchange_end::broken;
  }
}

std::string control_socket_path() {
  return (linux_port::runtime_dir()
          / ("control-" + linux_port::netns_id() + ".sock"))
      .string();
}

std::vector<std::string> control_socket_candidates() {
  std::vector<std::string> out{control_socket_path()};
  if (::geteuid() != 0)
    out.push_back(std::string{linux_port::system_runtime_dir} + "/control-"
                  + linux_port::netns_id() + ".sock");
  return out;
}

std::string share_control_socket(const std::string& path) {
  if (::geteuid() != 0)
    return "this user only";
  uid_t owner = 0;
  std::string who = "root";
  if (auto user = linux_port::invoking_user()) {
    owner = user->first;
    who += ", user " + std::to_string(owner) + " (" + user->second + ")";
  }
  gid_t group = 0;
  if (auto* g = ::getgrnam("drover")) {
    group = g->gr_gid;
    who += ", group drover";
  }
  bool shared = ::chown(path.c_str(), owner, group) == 0
                && ::chmod(path.c_str(), group != 0 ? 0660 : 0600) == 0;
  auto why = std::string{std::strerror(errno)};
  note_made_file(path, true); // its change time is new
  if (!shared)
    return "root only (cannot share the control socket: " + why + ")";
  return who;
}

} // namespace drover::platform
