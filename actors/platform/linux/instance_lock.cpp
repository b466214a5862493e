#include "actors/platform/instance_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace drover::platform {

struct instance_lock::impl {
  int fd = -1;
};

instance_lock::instance_lock(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

instance_lock::~instance_lock() {
  ::close(impl_->fd); // releases the lock
}

std::unique_ptr<instance_lock> instance_lock::claim(const std::string& name,
                                                    std::string& error) {
  int fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot open " + name + ": " + std::strerror(errno);
    return nullptr;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK)
      error = "cannot lock " + name + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  auto i = std::make_unique<impl>();
  i->fd = fd;
  return std::unique_ptr<instance_lock>{new instance_lock(std::move(i))};
}

} // namespace drover::platform
