#include "actors/platform/file_watch.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "actors/platform/linux/wakeup.hpp"

namespace drover::platform {

struct file_watch::impl {
  std::string name; // the file's name inside the watched folder
  std::string error;
  int inotify = -1;
  linux_port::wakeup_event wakeup; // stop() signals it
  std::atomic<bool> stopped{false};
};

file_watch::file_watch(std::filesystem::path file)
    : impl_(std::make_unique<impl>()) {
  auto& d = *impl_;
  d.name = file.filename().string();
  auto dir = file.parent_path();
  if (dir.empty())
    dir = ".";
  d.inotify = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (d.inotify < 0 || !d.wakeup.ok()) {
    d.error = std::string{"cannot watch files: "} + std::strerror(errno);
    return;
  }
  // Written and closed, renamed into place, created, removed, renamed away.
  constexpr uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE
                            | IN_MOVED_FROM | IN_ONLYDIR;
  if (::inotify_add_watch(d.inotify, dir.c_str(), mask) < 0)
    d.error = "cannot watch " + dir.string() + ": " + std::strerror(errno);
}

file_watch::~file_watch() {
  if (impl_->inotify >= 0)
    ::close(impl_->inotify);
}

bool file_watch::ok() const {
  return impl_->error.empty();
}

const std::string& file_watch::error() const {
  return impl_->error;
}

bool file_watch::wait() {
  auto& d = *impl_;
  if (!ok())
    return false;
  for (;;) {
    if (d.stopped.load())
      return false;
    pollfd fds[2] = {{d.inotify, POLLIN, 0}, {d.wakeup.fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      d.error = std::string{"watching failed: "} + std::strerror(errno);
      return false;
    }
    if (fds[1].revents != 0 || d.stopped.load())
      return false;
    // Events for every file in the folder; only ours count.
    alignas(inotify_event) char buf[4096];
    bool ours = false;
    for (;;) {
      auto n = ::read(d.inotify, buf, sizeof buf);
      if (n <= 0)
        break;
      for (ssize_t at = 0; at < n;) {
        auto* e = reinterpret_cast<const inotify_event*>(buf + at);
        if (e->len > 0 && d.name == e->name)
          ours = true;
        if ((e->mask & IN_Q_OVERFLOW) != 0)
          ours = true; // events were lost: look anyway
        at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      }
    }
    if (ours)
      return true;
  }
}

void file_watch::stop() {
  impl_->stopped.store(true);
  impl_->wakeup.signal();
}

} // namespace drover::platform
