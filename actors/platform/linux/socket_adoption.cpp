#include "actors/platform/linux/socket_adoption.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "actors/platform/linux/procfs.hpp"
#include "actors/platform/linux/system.hpp"

#ifndef SYS_pidfd_open
#  define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#  define SYS_pidfd_getfd 438
#endif
#ifndef SO_COOKIE
#  define SO_COOKIE 57
#endif

namespace drover::platform::linux_port {

namespace {

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

// A connection that may carry data one way or the other (not listening,
// not closed, not in TIME_WAIT).
bool connected_state(uint8_t state) {
  switch (state) {
    case TCP_ESTABLISHED:
    case TCP_SYN_SENT:
    case TCP_SYN_RECV:
    case TCP_FIN_WAIT1:
    case TCP_FIN_WAIT2:
    case TCP_CLOSE_WAIT:
    case TCP_LAST_ACK:
    case TCP_CLOSING:
      return true;
    default:
      return false;
  }
}

// Connections the capture leaves alone (loopback, the [skip] ranges, ...)
// are never aborted.
bool never_captured(const sockaddr_storage& a,
                    const std::vector<net::ipv4_cidr>& skipped) {
  uint32_t v4 = 0;
  if (a.ss_family == AF_INET) {
    v4 = ntohl(reinterpret_cast<const sockaddr_in*>(&a)->sin_addr.s_addr);
  } else {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
      return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)
             || IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr)
             || IN6_IS_ADDR_MULTICAST(&in6->sin6_addr);
    std::memcpy(&v4, in6->sin6_addr.s6_addr + 12, 4);
    v4 = ntohl(v4);
  }
  if ((v4 >> 24) == 127)
    return true;
  for (auto& c : skipped)
    if (c.contains(net::ipv4_address{v4}))
      return true;
  return false;
}

void fill_endpoint(const sockaddr_storage& a, __be16& port, __be32* addr) {
  if (a.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    port = in->sin_port;
    addr[0] = in->sin_addr.s_addr;
  } else {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    port = in6->sin6_port;
    std::memcpy(addr, &in6->sin6_addr, 16);
  }
}

// Aborts one TCP connection through sock_diag (the kernel's tcp_abort:
// the application's next call fails with ECONNABORTED, a blocked one wakes
// up with it).
bool destroy_tcp(int family, const sockaddr_storage& local,
                 const sockaddr_storage& remote, uint64_t cookie,
                 std::string& error) {
  fd_guard nl{
      ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)};
  if (nl.fd < 0) {
    error = std::string{"sock_diag: "} + std::strerror(errno);
    return false;
  }
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } msg{};
  msg.header.nlmsg_len = sizeof msg;
  msg.header.nlmsg_type = SOCK_DESTROY;
  msg.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  msg.request.sdiag_family = static_cast<uint8_t>(family);
  msg.request.sdiag_protocol = IPPROTO_TCP;
  msg.request.idiag_states = ~0u;
  fill_endpoint(local, msg.request.id.idiag_sport, msg.request.id.idiag_src);
  fill_endpoint(remote, msg.request.id.idiag_dport, msg.request.id.idiag_dst);
  msg.request.id.idiag_cookie[0] = static_cast<uint32_t>(cookie);
  msg.request.id.idiag_cookie[1] = static_cast<uint32_t>(cookie >> 32);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(nl.fd, &msg, sizeof msg, 0,
               reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel)
      < 0) {
    error = std::string{"SOCK_DESTROY: "} + std::strerror(errno);
    return false;
  }
  alignas(nlmsghdr) char reply[512];
  auto n = ::recv(nl.fd, reply, sizeof reply, 0);
  auto* h = reinterpret_cast<const nlmsghdr*>(reply);
  if (n < static_cast<ssize_t>(sizeof(nlmsghdr) + sizeof(nlmsgerr))
      || h->nlmsg_type != NLMSG_ERROR) {
    error = "SOCK_DESTROY: no answer from the kernel";
    return false;
  }
  // NLMSG_DATA, without its C cast.
  auto* answer = reinterpret_cast<const nlmsgerr*>(
      reply + NLMSG_ALIGN(sizeof(nlmsghdr)));
  if (answer->error != 0) {
    error = std::string{"SOCK_DESTROY: "} + std::strerror(-answer->error);
    return false;
  }
  return true;
}

// When process `pid` started (its stat line's start time), or 0 when it
// cannot be read (gone).
uint64_t start_time_of(pid_t pid) {
  auto path = "/proc/" + std::to_string(pid) + "/stat";
  auto fields = read_stat(AT_FDCWD, path.c_str());
  return fields ? fields->started : 0;
}

} // namespace

adopted_sockets adopt_sockets(pid_t pid, uint64_t started, uint32_t mark,
                              const net::capture::exclusions& skip,
                              std::string& error) {
  adopted_sockets out;
  auto skipped = net::capture::excluded_ranges(skip);
  fd_guard process{static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))};
  if (process.fd < 0) {
    if (errno == ESRCH) // gone meanwhile: nothing to take over
      out.gone = true;
    else
      error = std::string{"pidfd_open: "} + std::strerror(errno);
    return out;
  }
  // The descriptor holds the process it was opened for: once that one is
  // gone, pidfd_getfd fails, whoever has its ID by then. So a start time
  // that matches now means every borrow below is from the process the scan
  // saw; one that does not is another program's under a reused ID.
  if (started != 0 && start_time_of(pid) != started) {
    out.gone = true;
    return out;
  }
  // The descriptors' numbers from fdinfo, not fd: listing another user's
  // fd folder takes CAP_DAC_READ_SEARCH, which the system service does not
  // have; fdinfo takes the ptrace access pidfd_getfd needs anyway.
  auto dir = "/proc/" + std::to_string(pid) + "/fdinfo";
  DIR* fds = ::opendir(dir.c_str());
  if (fds == nullptr) {
    if (errno == ENOENT) // gone meanwhile: nothing to take over
      out.gone = true;
    else
      error = "cannot list " + dir + ": " + std::strerror(errno);
    return out;
  }
  std::set<uint64_t> seen; // one socket may sit behind several descriptors
  while (auto* e = ::readdir(fds)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue; // . and ..
    int number = std::atoi(e->d_name);
    fd_guard sock{
        static_cast<int>(::syscall(SYS_pidfd_getfd, process.fd, number, 0))};
    if (sock.fd < 0) {
      if (errno == ESRCH)
        break; // the process ended meanwhile (a reset connection may end it)
      if (errno != EBADF) // closed meanwhile
        error = std::string{"pidfd_getfd: "} + std::strerror(errno);
      continue;
    }
    struct stat st {};
    if (::fstat(sock.fd, &st) != 0 || !S_ISSOCK(st.st_mode)
        || !seen.insert(st.st_ino).second)
      continue;
    int family = 0;
    int protocol = 0;
    uint32_t old_mark = 0;
    socklen_t n = sizeof family;
    ::getsockopt(sock.fd, SOL_SOCKET, SO_DOMAIN, &family, &n);
    if (family != AF_INET && family != AF_INET6)
      continue;
    n = sizeof protocol;
    ::getsockopt(sock.fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &n);
    n = sizeof old_mark;
    ::getsockopt(sock.fd, SOL_SOCKET, SO_MARK, &old_mark, &n);
    if (old_mark == mark)
      continue; // made while a target, or taken over before
    // The mark first: the abort's own reset, and anything after, is then
    // captured (and dropped) instead of leaving direct.
    if (::setsockopt(sock.fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
      error = std::string{"SO_MARK: "} + std::strerror(errno);
      continue;
    }
    out.marked++;
    if (protocol != IPPROTO_TCP)
      continue;
    tcp_info info{};
    n = sizeof info;
    if (::getsockopt(sock.fd, IPPROTO_TCP, TCP_INFO, &info, &n) != 0
        || !connected_state(info.tcpi_state))
      continue;
    sockaddr_storage local{};
    sockaddr_storage remote{};
    socklen_t ln = sizeof local;
    socklen_t rn = sizeof remote;
    uint64_t cookie = 0;
    socklen_t cn = sizeof cookie;
    if (::getsockname(sock.fd, reinterpret_cast<sockaddr*>(&local), &ln) != 0
        || ::getpeername(sock.fd, reinterpret_cast<sockaddr*>(&remote), &rn)
               != 0
        || ::getsockopt(sock.fd, SOL_SOCKET, SO_COOKIE, &cookie, &cn) != 0
        || never_captured(remote, skipped))
      continue;
    if (destroy_tcp(family, local, remote, cookie, error))
      out.reset++;
  }
  ::closedir(fds);
  return out;
}

} // namespace drover::platform::linux_port
