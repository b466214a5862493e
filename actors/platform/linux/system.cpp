#include "actors/platform/linux/system.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "actors/platform/files.hpp"
#include "actors/platform/linux/netns_identity.hpp"
#include "actors/platform/linux/procfs.hpp"

extern char** environ;

namespace drover::platform::linux_port {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in{p};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool write_file(const fs::path& p, const std::string& text,
                std::string& error) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open " + p.string() + ": " + std::strerror(errno);
    return false;
  }
  bool ok = ::write(fd, text.data(), text.size())
            == static_cast<ssize_t>(text.size());
  if (!ok)
    error = "cannot write " + p.string() + ": " + std::strerror(errno);
  ::close(fd);
  return ok;
}

} // namespace

std::string missing_privileges() {
  auto caps = effective_capabilities(read_file("/proc/self/status"));
  if (!caps)
    return "cannot read this process's capabilities";
  std::string missing;
  if (!(*caps & (uint64_t{1} << cap_net_admin)))
    missing = "CAP_NET_ADMIN";
  if (!(*caps & (uint64_t{1} << cap_net_raw)))
    missing += missing.empty() ? "CAP_NET_RAW" : " and CAP_NET_RAW";
  // Capabilities alone are not enough: the engine also creates a cgroup in
  // the root-owned cgroup tree and moves processes into it.
  if (missing.empty() && ::geteuid() == 0)
    return {};
  return "Drover's engine runs as root on Linux (it needs "
         + (missing.empty() ? std::string{"root"} : missing)
         + " to capture traffic). Start it with sudo (sudo drover "
           "--headless), or install it as a system service once (sudo make "
           "install; see docs/desktop.md)";
}

std::string netns_id(uint32_t pid) {
  std::error_code ec;
  auto proc = pid == 0 ? std::string{"self"} : std::to_string(pid);
  auto link
      = fs::read_symlink("/proc/" + proc + "/ns/net", ec).string(); // net:[N]
  auto open = link.find('[');
  auto close = link.find(']');
  if (ec || open == std::string::npos || close == std::string::npos)
    return "0";
  return link.substr(open + 1, close - open - 1);
}

fs::path runtime_dir() {
  if (::geteuid() != 0)
    return user_runtime_dir();
  // Root's: only root can create or change /run/drover. 0755: the control
  // socket inside decides who may connect.
  fs::path dir = system_runtime_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0755);
  return dir;
}

program_result run_program(const std::vector<std::string>& argv,
                           std::string_view input) {
  program_result result;
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0)
    return result;
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 2);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc
      = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (rc == 0) {
    // The inputs here are small (a rule set), far below a pipe's buffer.
    (void)!::write(in_pipe[1], input.data(), input.size());
  }
  ::close(in_pipe[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out_pipe[0], buf, sizeof buf)) > 0)
    result.output.append(buf, static_cast<size_t>(n));
  ::close(out_pipe[0]);
  if (rc != 0) {
    result.output = argv[0] + ": " + std::strerror(rc);
    return result;
  }
  result.status = wait_exit_code(pid);
  return result;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

// -- target cgroup
// -------------------------------------------------------------

int sweep_dead_cgroup_mounts(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator it{dir, ec};
  if (ec)
    return 0;
  int removed = 0;
  for (auto& e : it) {
    auto name = e.path().filename().string();
    constexpr std::string_view prefix = "cgroup2-";
    if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()
        || name.find_first_not_of("0123456789", prefix.size())
               != std::string::npos)
      continue;
    uint64_t inode = std::strtoull(name.c_str() + prefix.size(), nullptr, 10);
    // A live namespace's may be mounted in another engine's view: never
    // (asked now that the folder is seen: see netns_in_use). rmdir refuses
    // a folder that is not empty.
    if (!netns_in_use(inode) && ::rmdir(e.path().c_str()) == 0)
      ++removed;
  }
  return removed;
}

std::unique_ptr<target_cgroup> target_cgroup::open(const std::string& name,
                                                   std::string& error) {
  std::unique_ptr<target_cgroup> g{new target_cgroup};
  auto found = find_cgroup2(read_file("/proc/self/mountinfo"));
  std::string root = "/";
  if (found) {
    g->mount_ = found->mount_point;
    root = found->root;
  } else {
    // No cgroup2 visible (ip netns exec remounts /sys): mount our own view
    // of the same hierarchy, private to this mount namespace.
    sweep_dead_cgroup_mounts(runtime_dir());
    g->mount_ = runtime_dir() / ("cgroup2-" + netns_id());
    std::error_code ec;
    fs::create_directories(g->mount_, ec);
    if (::mount("none", g->mount_.c_str(), "cgroup2", 0, nullptr) != 0
        && errno != EBUSY) {
      error = std::string{"cannot mount cgroup2: "} + std::strerror(errno);
      return nullptr;
    }
    g->private_mount_ = true;
  }
  // Where in the hierarchy: at its root, or, for the system service, in
  // the service's own subtree (the unit asks systemd for it: Delegate=yes,
  // DROVER_CGROUP_DELEGATED=1). systemd owns the rest of the tree there,
  // and the sandboxed service (no CAP_DAC_OVERRIDE) may not write at the
  // root, which systemd leaves read-only.
  fs::path parent = root;
  if (const char* d = std::getenv("DROVER_CGROUP_DELEGATED");
      d != nullptr && std::string_view{d} == "1")
    if (auto own = unified_cgroup_path(read_file("/proc/self/cgroup"));
        own
        && fs::path{*own}.lexically_relative(root).native().rfind("..", 0) != 0)
      parent = *own;
  g->dir_ = g->mount_ / parent.lexically_relative(root) / name;
  g->dir_ = g->dir_.lexically_normal();
  std::error_code ec;
  fs::create_directory(g->dir_, ec);
  if (ec) {
    error = "cannot create cgroup " + g->dir_.string() + ": " + ec.message();
    return nullptr;
  }
  // iptables resolves the path from the hierarchy's root.
  g->rule_path_ = (parent / name).relative_path().string();
  return g;
}

uint64_t target_cgroup::id() const {
  struct stat st {};
  return ::stat(dir_.c_str(), &st) == 0 ? st.st_ino : 0;
}

uint32_t target_cgroup::level() const {
  uint32_t n = 0;
  for (auto& part : fs::path{rule_path_})
    n += part.empty() ? 0u : 1u;
  return n;
}

target_cgroup::~target_cgroup() {
  release();
}

fs::path target_cgroup::dir_of(uint32_t proxy) const {
  return proxy == 0 ? dir_ : dir_ / ("proxy-" + std::to_string(proxy));
}

uint64_t target_cgroup::make_proxy_group(uint32_t proxy, std::string& error) {
  auto dir = dir_of(proxy);
  std::error_code ec;
  fs::create_directory(dir, ec);
  struct stat st {};
  if (ec || ::stat(dir.c_str(), &st) != 0) {
    error = "cannot create cgroup " + dir.string() + ": "
            + (ec ? ec.message() : std::string{std::strerror(errno)});
    return 0;
  }
  return st.st_ino;
}

std::vector<std::pair<uint64_t, uint32_t>> target_cgroup::proxy_groups() const {
  std::vector<std::pair<uint64_t, uint32_t>> groups;
  for (uint32_t p = 1; p < 8; ++p) {
    struct stat st {};
    if (::stat(dir_of(p).c_str(), &st) == 0)
      groups.emplace_back(st.st_ino, p);
  }
  return groups;
}

bool target_cgroup::add(pid_t pid, uint32_t proxy, std::string& error) {
  auto now = proxy_of(pid);
  if (now == static_cast<int>(proxy))
    return true; // a member already (kept over a restart): its origin stays
  auto origin = unified_cgroup_path(
      read_file("/proc/" + std::to_string(pid) + "/cgroup"));
  if (!write_file(dir_of(proxy) / "cgroup.procs", std::to_string(pid) + "\n",
                  error))
    return false;
  if (now < 0)
    origins_.emplace_back(pid, origin.value_or("/"));
  return true;
}

int target_cgroup::proxy_of(pid_t pid) const {
  // The group's own list, not /proc/PID/cgroup: a private mount's paths
  // are not what the process's cgroup namespace shows.
  for (uint32_t p = 0; p < 8; ++p) {
    std::istringstream in{read_file(dir_of(p) / "cgroup.procs")};
    for (pid_t member; in >> member;)
      if (member == pid)
        return static_cast<int>(p);
  }
  return -1;
}

void target_cgroup::release() {
  if (released_)
    return;
  released_ = true;
  // Members go back where they came from; unknown ones (left by a crashed
  // run, or children) to the root of the hierarchy. The proxy groups
  // first: a group is removed only once its children are.
  std::string error;
  for (uint32_t p = 8; p-- > 0;) {
    auto dir = dir_of(p);
    std::istringstream in{read_file(dir / "cgroup.procs")};
    for (pid_t member; in >> member;) {
      std::string origin = "/";
      for (auto& [pid, path] : origins_)
        if (pid == member)
          origin = path;
      auto target = mount_ / fs::path{origin}.relative_path() / "cgroup.procs";
      if (!write_file(target, std::to_string(member) + "\n", error))
        write_file(mount_ / "cgroup.procs", std::to_string(member) + "\n",
                   error);
    }
    ::rmdir(dir.c_str());
  }
  if (private_mount_) {
    ::umount2(mount_.c_str(), MNT_DETACH);
    ::rmdir(mount_.c_str());
  }
}

namespace {

// Who `drover run`'s program runs as: the user the engine was started for
// (sudo, pkexec), with that user's groups and environment; prepared before
// fork() (the child must not allocate).
struct run_as {
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::vector<std::string> env_text;
  std::vector<char*> env;
};

run_as identity_for_run() {
  run_as r;
  auto user = invoking_user();
  struct passwd* pw = user ? ::getpwuid(user->first) : nullptr;
  if (pw != nullptr) {
    r.drop = true;
    r.uid = pw->pw_uid;
    r.gid = pw->pw_gid;
    int n = 64;
    r.groups.resize(static_cast<size_t>(n));
    if (::getgrouplist(pw->pw_name, pw->pw_gid, r.groups.data(), &n) < 0) {
      r.groups.resize(static_cast<size_t>(n));
      ::getgrouplist(pw->pw_name, pw->pw_gid, r.groups.data(), &n);
    }
    r.groups.resize(static_cast<size_t>(std::max(n, 0)));
    r.env_text = {std::string{"HOME="} + pw->pw_dir,
                  std::string{"USER="} + pw->pw_name,
                  std::string{"LOGNAME="} + pw->pw_name,
                  std::string{"SHELL="} + pw->pw_shell};
  }
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view var{*e};
    bool replaced
        = r.drop
          && (var.rfind("HOME=", 0) == 0 || var.rfind("USER=", 0) == 0
              || var.rfind("LOGNAME=", 0) == 0 || var.rfind("SHELL=", 0) == 0
              || var.rfind("SUDO_", 0) == 0
              || var.rfind("PKEXEC_UID=", 0) == 0);
    if (!replaced)
      r.env_text.emplace_back(var);
  }
  for (auto& e : r.env_text)
    r.env.push_back(e.data());
  r.env.push_back(nullptr);
  return r;
}

} // namespace

void exec_in_place(const std::vector<std::string>& argv, std::string& error) {
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto who = identity_for_run();
  // As spawn_in_cgroup's child: root through sudo or pkexec runs the
  // program as the user who asked, never as root.
  if (who.drop
      && (::setgroups(who.groups.size(), who.groups.data()) != 0
          || ::setresgid(who.gid, who.gid, who.gid) != 0
          || ::setresuid(who.uid, who.uid, who.uid) != 0
          || ::getuid() != who.uid || ::geteuid() != who.uid)) {
    error = std::string{"cannot become the user who asked: "}
            + std::strerror(errno);
    return;
  }
  ::execvpe(args[0], args.data(), who.env.data());
  error = std::strerror(errno);
}

pid_t spawn_in_cgroup(const std::vector<std::string>& argv,
                      target_cgroup& group, uint32_t proxy,
                      std::string& error) {
  // Everything the child needs is prepared before fork(): other threads may
  // hold the allocator's lock, so the child must not allocate.
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto who = identity_for_run();
  sigset_t none;
  sigemptyset(&none);
  int gate[2];
  if (::pipe2(gate, O_CLOEXEC) != 0) {
    error = std::strerror(errno);
    return -1;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    error = std::strerror(errno);
    return -1;
  }
  if (pid == 0) {
    // Wait until the parent has moved us into the group, then become argv.
    ::close(gate[1]);
    char go;
    if (::read(gate[0], &go, 1) != 1)
      ::_exit(127);
    // Nothing of the engine's is handed on: descriptors 0-2 only (the
    // packet queue, the log files, sockets to the proxy stay behind) ...
    if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
      for (int fd = 3; fd < 65536; ++fd)
        ::close(fd);
    // ... and the engine's privileges neither.
    if (who.drop
        && (::syscall(SYS_setgroups, who.groups.size(), who.groups.data()) != 0
            || ::syscall(SYS_setresgid, who.gid, who.gid, who.gid) != 0
            || ::syscall(SYS_setresuid, who.uid, who.uid, who.uid) != 0
            || ::getuid() != who.uid || ::geteuid() != who.uid))
      ::_exit(126);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvpe(args[0], args.data(), who.env.data());
    ::_exit(127);
  }
  ::close(gate[0]);
  bool moved = group.add(pid, proxy, error);
  char go = moved ? 'g' : 'x';
  if (moved)
    (void)!::write(gate[1], &go, 1);
  ::close(gate[1]); // without 'g' the child exits 127
  if (!moved) {
    wait_exit_code(pid);
    return -1;
  }
  return pid;
}

std::string why_not_joinable(uint32_t pid, uint32_t caller, uint32_t user) {
  auto who = "process " + std::to_string(pid);
  auto ids
      = process_ids_of(read_file("/proc/" + std::to_string(pid) + "/status"));
  if (!ids)
    return who + " is not running";
  if ((pid != caller && ids->parent != caller) || ids->user != user)
    return who
           + " is neither yours nor a child of yours: only those are put "
             "in place";
  if (netns_id(pid) != netns_id())
    return who
           + " runs in another network namespace than this Drover: its "
             "traffic would not pass Drover's capture";
  return {};
}

// -- users -------------------------------------------------------------------

std::optional<std::pair<uid_t, const char*>> invoking_user() {
  for (const char* var : {"PKEXEC_UID", "SUDO_UID"}) {
    const char* text = std::getenv(var);
    if (text == nullptr || *text == 0)
      continue;
    char* end = nullptr;
    auto uid = std::strtoul(text, &end, 10);
    if (*end != 0 || uid == 0 || uid > 0x7fffffffUL)
      continue;
    return std::make_pair(static_cast<uid_t>(uid), var);
  }
  return std::nullopt;
}

std::vector<uint32_t> served_users(std::string& who) {
  if (auto user = invoking_user()) {
    who = "user " + std::to_string(user->first) + " (" + user->second + ")";
    return {static_cast<uint32_t>(user->first)};
  }
  std::vector<uint32_t> uids;
  if (auto* g = ::getgrnam("drover")) {
    gid_t gid = g->gr_gid;
    std::vector<std::string> members;
    for (char** m = g->gr_mem; m != nullptr && *m != nullptr; ++m)
      members.emplace_back(*m);
    for (auto& name : members)
      if (auto* pw = ::getpwnam(name.c_str()))
        uids.push_back(static_cast<uint32_t>(pw->pw_uid));
    ::setpwent();
    while (auto* pw = ::getpwent())
      if (pw->pw_gid == gid)
        uids.push_back(static_cast<uint32_t>(pw->pw_uid));
    ::endpwent();
  }
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  if (!uids.empty()) {
    who = "the members of group drover";
    return uids;
  }
  auto self = static_cast<uint32_t>(::getuid());
  who = "user " + std::to_string(self) + " (this process's own)";
  return {self};
}

} // namespace drover::platform::linux_port
