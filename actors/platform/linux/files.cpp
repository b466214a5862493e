#include "actors/platform/files.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

} // namespace

std::filesystem::path temporary_path_for(const std::filesystem::path& path) {
  auto tmp = path;
  tmp += ".drover-tmp";
  return tmp;
}

std::error_code write_file_atomically(const std::filesystem::path& path,
                                      std::string_view content,
                                      file_access access,
                                      const std::function<void()>& before) {
  std::error_code ec;
  auto dir = path.parent_path().empty() ? std::filesystem::path{"."}
                                        : path.parent_path();
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return ec;
  auto tmp = temporary_path_for(path);
  mode_t mode = access == file_access::owner_only ? 0600 : 0644;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return last_error();
  // The temporary may be left over from a crash with other permissions.
  if (::fchmod(fd, mode) != 0) {
    ec = last_error();
    ::close(fd);
    return ec;
  }
  // Root (the engine started for a desktop user) writing in a user's folder
  // must not take the file from its owner: the replacement keeps the old
  // file's owner, or a new one gets the folder's.
  if (::geteuid() == 0) {
    struct stat owner_of {};
    if (::stat(path.c_str(), &owner_of) == 0
        || ::stat(dir.c_str(), &owner_of) == 0)
      if (owner_of.st_uid != 0
          && ::fchown(fd, owner_of.st_uid, owner_of.st_gid) != 0) {
        ec = last_error();
        ::close(fd);
        ::unlink(tmp.c_str());
        return ec;
      }
  }
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    auto n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ec = n < 0 ? last_error() : std::make_error_code(std::errc::io_error);
      ::close(fd);
      ::unlink(tmp.c_str());
      return ec;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ec = last_error();
    ::close(fd);
    ::unlink(tmp.c_str());
    return ec;
  }
  ::close(fd);
  if (before)
    before();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ec = last_error();
    ::unlink(tmp.c_str());
    return ec;
  }
  // Make the rename itself durable.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

std::filesystem::path current_executable() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path{"drover"} : exe;
}

std::filesystem::path user_runtime_dir() {
  std::filesystem::path dir;
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && xdg[0] == '/')
    dir = std::filesystem::path{xdg} / "drover";
  else
    dir = std::filesystem::temp_directory_path()
          / ("drover-" + std::to_string(::geteuid()));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  return dir;
}

std::filesystem::path default_config_path() {
  if (is_system_service())
    return "/etc/drover/config.toml";
  return xdg_dir("XDG_CONFIG_HOME", ".config") / "drover" / "config.toml";
}

std::filesystem::path default_log_dir() {
  if (is_system_service())
    return "/var/log/drover";
  return xdg_dir("XDG_STATE_HOME", ".local/state") / "drover" / "logs";
}

} // namespace drover::platform
