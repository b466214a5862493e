#include "actors/platform/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "actors/platform/linux/system.hpp"

namespace drover::platform {

namespace {

std::error_code last_error() {
  return {errno, std::generic_category()};
}

bool is_system_service() {
  return geteuid() == 0 && std::getenv("INVOCATION_ID") != nullptr
         && std::getenv("XDG_CONFIG_HOME") == nullptr;
}

std::filesystem::path xdg_dir(const char* var, const char* fallback) {
  if (const char* v = std::getenv(var); v != nullptr && v[0] == '/')
    return v;
  const char* home = std::getenv("HOME");
  return std::filesystem::path{home != nullptr ? home : "/"} / fallback;
}

// This thread acts as another user for file access while it lives: its
// filesystem IDs are the user's (setfsuid, setfsgid) and it has no
// supplementary groups, so the kernel allows only what that user may do.
// All three are per-thread system calls (glibc would apply setgroups to
// every thread of the process; the raw call does not).
class acting_as {
public:
  acting_as(uid_t uid, gid_t gid) {
    int n = ::getgroups(0, nullptr);
    if (n > 0) {
      groups_.resize(static_cast<size_t>(n));
      ::getgroups(n, groups_.data());
    }
    ::syscall(SYS_setgroups, 0, nullptr);
    ::syscall(SYS_setfsgid, gid);
    ::syscall(SYS_setfsuid, uid);
    // setfsuid answers with the previous ID: ask again to see it took.
    active_ = static_cast<uid_t>(::syscall(SYS_setfsuid, -1)) == uid;
  }
  ~acting_as() {
    ::syscall(SYS_setfsuid, ::geteuid());
    ::syscall(SYS_setfsgid, ::getegid());
    ::syscall(SYS_setgroups, groups_.size(), groups_.data());
  }
  acting_as(const acting_as&) = delete;
  acting_as& operator=(const acting_as&) = delete;
  bool active() const { return active_; }

private:
  std::vector<gid_t> groups_;
  bool active_ = false;
};

// Only root can change what `path` names: every folder on the way (as
// written and as resolved) is root's and not writable by others, and any
// symlink on the way is root's.
bool only_root_can_change(const std::filesystem::path& path) {
  auto trusted = [](const std::filesystem::path& p) {
    std::filesystem::path prefix;
    for (auto& part : p) {
      prefix /= part;
      struct stat st {};
      if (::lstat(prefix.c_str(), &st) != 0 || st.st_uid != 0)
        return false;
      if (S_ISDIR(st.st_mode) && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return false;
      if (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
        return false;
    }
    return true;
  };
  std::error_code ec;
  auto dir = std::filesystem::absolute(path, ec).parent_path();
  auto real = std::filesystem::canonical(dir, ec);
  return !ec && trusted(dir) && trusted(real);
}

// Who the current thread must act as for `path`: nobody else (the engine
// itself) unless the engine is root, was started for a user, and the path
// is not one only root can change.
std::optional<std::pair<uid_t, gid_t>>
acting_user(const std::filesystem::path& path, on_behalf who) {
  if (who != on_behalf::invoking_user || ::geteuid() != 0)
    return std::nullopt;
  auto user = linux_port::invoking_user();
  if (!user || only_root_can_change(path))
    return std::nullopt;
  auto* pw = ::getpwuid(user->first);
  return std::make_pair(user->first, pw != nullptr ? pw->pw_gid : user->first);
}

// A name no file has yet: ".config.toml.drover-<random>".
std::string temporary_name(const std::filesystem::path& path) {
  uint64_t r = 0;
  if (::getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r))
    r = static_cast<uint64_t>(::getpid()) << 32
        ^ static_cast<uint64_t>(
            std::chrono::steady_clock::now().time_since_epoch().count());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(r));
  return "." + path.filename().string() + ".drover-" + hex;
}

bool is_temporary_of(const std::string& name,
                     const std::filesystem::path& path) {
  auto prefix = "." + path.filename().string() + ".drover-";
  return name.size() == prefix.size() + 16 && name.rfind(prefix, 0) == 0;
}

// Removes temporaries a killed write left in `dir`.
void remove_leftovers(int dir, const std::filesystem::path& path) {
  int copy = ::dup(dir);
  DIR* d = copy >= 0 ? ::fdopendir(copy) : nullptr;
  if (d == nullptr) {
    if (copy >= 0)
      ::close(copy);
    return;
  }
  while (auto* e = ::readdir(d))
    if (is_temporary_of(e->d_name, path))
      ::unlinkat(dir, e->d_name, 0);
  ::closedir(d);
}

std::error_code write_in(int dir, const std::filesystem::path& path,
                         std::string_view content, mode_t mode,
                         const std::function<void()>& before) {
  remove_leftovers(dir, path);
  auto tmp = temporary_name(path);
  // O_EXCL | O_NOFOLLOW: a new file, never one (or a link) planted there.
  int fd = ::openat(dir, tmp.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0)
    return last_error();
  std::error_code ec;
  auto give_up = [&] {
    ec = last_error();
    ::close(fd);
    ::unlinkat(dir, tmp.c_str(), 0);
    return ec;
  };
  if (::fchmod(fd, mode) != 0) // the umask may have taken bits away
    return give_up();
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    auto n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = EIO;
      return give_up();
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0)
    return give_up();
  ::close(fd);
  if (before)
    before();
  if (::renameat(dir, tmp.c_str(), dir, path.filename().c_str()) != 0) {
    ec = last_error();
    ::unlinkat(dir, tmp.c_str(), 0);
    return ec;
  }
  ::fsync(dir); // the rename itself, durable
  return {};
}

} // namespace

std::error_code write_file_atomically(const std::filesystem::path& path,
                                      std::string_view content,
                                      file_access access, on_behalf who,
                                      const std::function<void()>& before) {
  auto user = acting_user(path, who);
  std::optional<acting_as> as;
  if (user) {
    as.emplace(user->first, user->second);
    if (!as->active())
      return std::make_error_code(std::errc::operation_not_permitted);
  }
  std::error_code ec;
  auto dir = path.parent_path().empty() ? std::filesystem::path{"."}
                                        : path.parent_path();
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return ec;
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return last_error();
  mode_t mode = access == file_access::owner_only ? 0600 : 0644;
  ec = write_in(dfd, path, content, mode, before);
  ::close(dfd);
  return ec;
}

std::optional<std::string> read_file(const std::filesystem::path& path,
                                     size_t limit, on_behalf who,
                                     std::string& error) {
  auto user = acting_user(path, who);
  std::optional<acting_as> as;
  if (user) {
    as.emplace(user->first, user->second);
    if (!as->active()) {
      error = "cannot take the user's rights to read it";
      return std::nullopt;
    }
  }
  // O_NOFOLLOW: a symlink put where the file should be is refused;
  // O_NONBLOCK: a FIFO there cannot make the read wait forever.
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    error = errno == ELOOP ? "it is a symbolic link, which Drover does not "
                             "follow here"
                           : std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) != 0) {
    error = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    error = "it is not a regular file";
  } else if (static_cast<size_t>(st.st_size) > limit) {
    error = "it is larger than " + std::to_string(limit / 1024) + " KiB";
  } else {
    text.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < text.size()) {
      auto n = ::read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      got += static_cast<size_t>(n);
    }
    text.resize(got);
  }
  ::close(fd);
  if (!error.empty())
    return std::nullopt;
  return text;
}

bool has_leftover_temporaries(const std::filesystem::path& path) {
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator{path.parent_path(), ec})
    if (is_temporary_of(e.path().filename().string(), path))
      return true;
  return false;
}

std::filesystem::path current_executable() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path{"drover"} : exe;
}

std::optional<std::filesystem::path>
private_dir(const std::filesystem::path& dir) {
  ::mkdir(dir.c_str(), 0700);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)
      || st.st_uid != ::geteuid())
    return std::nullopt; // a link, a file, or someone else's folder
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0)
    return std::nullopt;
  return dir;
}

std::filesystem::path user_runtime_dir() {
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && xdg[0] == '/') {
    std::error_code ec;
    std::filesystem::create_directories(xdg, ec);
    if (auto dir = private_dir(std::filesystem::path{xdg} / "drover"))
      return *dir;
  }
  // /tmp is everybody's: a folder of that name someone else made (or a
  // link planted there) is never used; a fresh one of ours instead.
  auto tmp = std::filesystem::temp_directory_path();
  if (auto dir = private_dir(tmp / ("drover-" + std::to_string(::geteuid()))))
    return *dir;
  auto pattern
      = (tmp / ("drover-" + std::to_string(::geteuid()) + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) != nullptr)
    return pattern;
  return tmp;
}

std::filesystem::path default_config_path() {
  if (is_system_service())
    return "/etc/drover/config.toml";
  return xdg_dir("XDG_CONFIG_HOME", ".config") / "drover" / "config.toml";
}

std::optional<std::string> secure_engine_folders(std::vector<std::string>&) {
  return std::nullopt; // see the declaration
}

std::filesystem::path default_log_dir() {
  if (is_system_service())
    return "/var/log/drover";
  return xdg_dir("XDG_STATE_HOME", ".local/state") / "drover" / "logs";
}

std::filesystem::path default_state_dir() {
  if (is_system_service())
    return "/var/lib/drover";
  return xdg_dir("XDG_STATE_HOME", ".local/state") / "drover";
}

} // namespace drover::platform
