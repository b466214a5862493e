#include "actors/platform/process.hpp"

#include "actors/platform/linux/procfs.hpp"
#include "actors/platform/linux/system.hpp"

#include <cerrno>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace drover::platform {

namespace {

sigset_t termination_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  // A closed terminal (sudo drover --headless) hangs up: stop as cleanly.
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  return set;
}

// A small /proc file's text ("" when it cannot be read).
std::string read_small_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The mount ID of the socket file system, as fdinfo names it (0 when this
// kernel's fdinfo does not say): a socket of our own, asked.
uint64_t sockets_mount_id() {
  static const uint64_t id = [] {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
      return uint64_t{0};
    auto file = linux_port::file_of_fdinfo(
        read_small_file("/proc/self/fdinfo/" + std::to_string(s)));
    ::close(s);
    return file ? file->mount_id : uint64_t{0};
  }();
  return id;
}

} // namespace

void capture_termination_requests() {
  auto set = termination_set();
  // Threads started later inherit the mask, so only sigwait sees them.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer resetting a relayed connection must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
}

void wait_for_termination() {
  auto set = termination_set();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {}
}

void request_termination() {
  ::kill(::getpid(), SIGTERM);
}

void keep_new_files_private() {
  ::umask(077);
}

void raise_open_file_limit() {
  rlimit current{};
  if (::getrlimit(RLIMIT_NOFILE, &current) != 0)
    return;
  // With CAP_SYS_RESOURCE (root) the hard limit can grow too.
  rlimit wanted{1u << 18, 1u << 18};
  if (wanted.rlim_max > current.rlim_max
      && ::setrlimit(RLIMIT_NOFILE, &wanted) == 0)
    return;
  current.rlim_cur = current.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &current);
}

size_t open_file_limit() {
  rlimit current{};
  if (::getrlimit(RLIMIT_NOFILE, &current) != 0
      || current.rlim_cur == RLIM_INFINITY)
    return 0;
  return static_cast<size_t>(current.rlim_cur);
}

std::optional<std::vector<process_entry>> list_processes() {
  // Who the engine serves does not change while it runs.
  static const std::vector<uint32_t> served = [] {
    std::string who;
    auto uids = linux_port::served_users(who);
    std::sort(uids.begin(), uids.end());
    return uids;
  }();
  std::vector<process_entry> out;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr)
    return std::nullopt;
  // Every call relative to /proc's descriptor into buffers on the stack:
  // the scan runs every 2 s over every process of a desktop (hundreds);
  // a stream and a path object per file had added a sixth to the kernel's
  // own work (572 processes: 14.2 ms a scan, now 12.0).
  int root = ::dirfd(proc);
  // Only processes in this network namespace: the capture's rules live
  // here, so a process elsewhere (a container, another Drover's namespace)
  // cannot be proxied by this engine and must not be taken from its own.
  struct stat own_net {};
  bool know_net = ::stat("/proc/self/ns/net", &own_net) == 0;
  char path[sizeof(dirent::d_name) + 8]; // "PID/ns/net"
  char link[PATH_MAX];
  while (auto* d = ::readdir(proc)) {
    char* end = nullptr;
    auto pid = std::strtoul(d->d_name, &end, 10);
    if (end == d->d_name || *end != 0)
      continue;
    struct stat net {};
    std::snprintf(path, sizeof path, "%s/ns/net", d->d_name);
    if (know_net && ::fstatat(root, path, &net, 0) == 0
        && (net.st_ino != own_net.st_ino || net.st_dev != own_net.st_dev))
      continue;
    std::snprintf(path, sizeof path, "%s/stat", d->d_name);
    auto fields = linux_port::read_stat(root, path);
    if (!fields)
      continue; // ended meanwhile
    process_entry e;
    e.pid = static_cast<uint32_t>(pid);
    e.parent_pid = fields->parent;
    e.created = fields->started;
    e.command = std::move(fields->command);
    std::snprintf(path, sizeof path, "%s/exe", d->d_name);
    auto length = ::readlinkat(root, path, link, sizeof link);
    // The kernel truncates comm to 15 bytes; the executable's name is the
    // reliable one when it can be read (a kernel thread has none, another
    // user's process hides it without CAP_SYS_PTRACE).
    if (length > 0 && static_cast<size_t>(length) < sizeof link) {
      e.path.assign(link, static_cast<size_t>(length));
      auto slash = e.path.rfind('/');
      e.name = slash == std::string::npos ? e.path : e.path.substr(slash + 1);
    } else {
      e.name = e.command;
    }
    struct stat owner {};
    e.served = ::fstatat(root, d->d_name, &owner, 0) == 0
               && std::binary_search(served.begin(), served.end(),
                                     static_cast<uint32_t>(owner.st_uid));
    out.push_back(std::move(e));
  }
  ::closedir(proc);
  return out;
}

std::map<uint16_t, socket_owner>
socket_owners(uint8_t protocol, uint32_t local_ip,
              const std::vector<uint16_t>& ports) {
  std::map<uint16_t, socket_owner> out;
  if (ports.empty())
    return out;
  std::ifstream table{protocol == 6 ? "/proc/self/net/tcp"
                                    : "/proc/self/net/udp"};
  std::stringstream text;
  text << table.rdbuf();
  auto inodes = linux_port::socket_inodes_by_port(text.str(), local_ip);
  std::map<uint64_t, uint16_t> wanted; // inode -> port
  for (auto port : ports)
    if (auto it = inodes.find(port); it != inodes.end())
      wanted.emplace(it->second, port);
  if (wanted.empty())
    return out;
  auto sockets_mount = sockets_mount_id();
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr)
    return out;
  while (auto* d = ::readdir(proc)) {
    if (out.size() == wanted.size())
      break;
    char* end = nullptr;
    auto pid = std::strtoul(d->d_name, &end, 10);
    if (end == d->d_name || *end != 0)
      continue;
    auto base = std::string{"/proc/"} + d->d_name;
    // The fd folder's links name sockets; where it may not be listed
    // (another user's process, and the system service has no
    // CAP_DAC_READ_SEARCH) fdinfo says the same with ptrace access.
    bool by_fdinfo = false;
    DIR* fds = ::opendir((base + "/fd").c_str());
    if (fds == nullptr && errno == EACCES && sockets_mount != 0) {
      fds = ::opendir((base + "/fdinfo").c_str());
      by_fdinfo = true;
    }
    if (fds == nullptr)
      continue; // gone, or not ours to see
    while (auto* f = ::readdir(fds)) {
      uint64_t inode = 0;
      if (by_fdinfo) {
        if (f->d_name[0] < '0' || f->d_name[0] > '9')
          continue;
        auto file = linux_port::file_of_fdinfo(
            read_small_file(base + "/fdinfo/" + f->d_name));
        if (file && file->mount_id == sockets_mount)
          inode = file->inode;
      } else {
        char link[64];
        auto n = ::readlinkat(::dirfd(fds), f->d_name, link, sizeof link - 1);
        if (n > 0)
          inode = linux_port::socket_inode_of_link(
              {link, static_cast<size_t>(n)});
      }
      auto it = wanted.find(inode);
      if (inode == 0 || it == wanted.end())
        continue;
      std::error_code ec;
      auto exe = std::filesystem::read_symlink(base + "/exe", ec);
      std::string name;
      if (!ec) {
        name = exe.filename().string();
      } else {
        std::ifstream comm{base + "/comm"};
        std::getline(comm, name);
      }
      out[it->second] = {static_cast<uint32_t>(pid), name};
    }
    ::closedir(fds);
  }
  ::closedir(proc);
  return out;
}

std::vector<process_entry> ancestors_of(uint32_t, int) {
  return {}; // the kernel program looks at a process's ancestors itself
}

std::optional<process_identity> identify_process(uint32_t) {
  return std::nullopt; // the kernel program decides at socket creation
}

std::string capture_privilege_problem() {
  return linux_port::missing_privileges();
}

void attach_parent_console() {}

int run_elevated(const std::vector<std::string>&, std::string& error) {
  error = "start Drover with sudo (or from the desktop, which asks through "
          "pkexec)";
  return -1;
}

namespace {

class program_in_place final : public waiting_program {
public:
  explicit program_in_place(std::vector<std::string> argv)
      : argv_(std::move(argv)) {}
  unsigned long pid() const override { return current_process_id(); }
  int run(std::string& error) override {
    linux_port::exec_in_place(argv_, error); // returns only when it failed
    return -1;
  }

private:
  std::vector<std::string> argv_;
};

} // namespace

std::unique_ptr<waiting_program>
waiting_program::prepare(const std::vector<std::string>& argv, std::string&) {
  return std::make_unique<program_in_place>(argv);
}

int wait_exit_code(unsigned long pid) {
  return linux_port::wait_exit_code(static_cast<pid_t>(pid));
}

std::tm local_time(std::time_t t) {
  std::tm local{};
  localtime_r(&t, &local);
  return local;
}

const char* system_name() {
  return "Linux";
}

unsigned long current_process_id() {
  return static_cast<unsigned long>(::getpid());
}

} // namespace drover::platform

namespace drover::platform::linux_port {

std::optional<stat_fields> read_stat(int proc_fd, const char* path) {
  int fd = ::openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  char text[1024]; // the start time is well within: a name is at most 64
  auto got = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (got <= 0)
    return std::nullopt;
  return parse_stat_line({text, static_cast<size_t>(got)});
}

} // namespace drover::platform::linux_port
