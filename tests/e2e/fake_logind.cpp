// A stand-in for logind on a test's own D-Bus daemon: it owns the name
// org.freedesktop.login1, serves Manager.Inhibit (a delay lock is the read
// end of a pipe; the helper notices when the holder closes it) and emits
// Manager.PrepareForSleep(b) when told on stdin:
//   sleep   PrepareForSleep(true)     wake   PrepareForSleep(false)
// It prints "ready", "inhibitor taken", "inhibitor released",
// "sent sleep", "sent wake". Usage: fake_logind BUS_ADDRESS

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <systemd/sd-bus.h>

namespace {

std::vector<int> lock_writers; // our ends of the lock pipes

int inhibit(sd_bus_message* m, void*, sd_bus_error*) {
  const char *what = nullptr, *who = nullptr, *why = nullptr, *mode = nullptr;
  if (sd_bus_message_read(m, "ssss", &what, &who, &why, &mode) < 0)
    return -EINVAL;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return -errno;
  lock_writers.push_back(fds[1]);
  std::printf("inhibitor taken: %s %s %s\n", what, who, mode);
  std::fflush(stdout);
  int r = sd_bus_reply_method_return(m, "h", fds[0]);
  ::close(fds[0]); // sd-bus sent a duplicate
  return r;
}

const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Inhibit", "ssss", "h", inhibit, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL("PrepareForSleep", "b", 0), SD_BUS_VTABLE_END};

int fail(const char* what, int r) {
  std::fprintf(stderr, "fake_logind: %s: %s\n", what, std::strerror(-r));
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fake_logind BUS_ADDRESS\n");
    return 2;
  }
  sd_bus* bus = nullptr;
  int r = sd_bus_new(&bus);
  if (r >= 0)
    r = sd_bus_set_address(bus, argv[1]);
  if (r >= 0)
    r = sd_bus_set_bus_client(bus, 1);
  if (r >= 0)
    r = sd_bus_start(bus);
  if (r < 0)
    return fail("connecting", r);
  sd_bus_slot* slot = nullptr;
  r = sd_bus_add_object_vtable(bus, &slot, "/org/freedesktop/login1",
                               "org.freedesktop.login1.Manager", manager_vtable,
                               nullptr);
  if (r < 0)
    return fail("adding the object", r);
  r = sd_bus_request_name(bus, "org.freedesktop.login1", 0);
  if (r < 0)
    return fail("owning org.freedesktop.login1", r);
  std::printf("ready\n");
  std::fflush(stdout);
  std::string line;
  for (int round = 0; round < 100000; ++round) {
    while ((r = sd_bus_process(bus, nullptr)) > 0) {}
    if (r < 0)
      return fail("processing", r);
    std::vector<pollfd> fds{
        {sd_bus_get_fd(bus), static_cast<short>(sd_bus_get_events(bus)), 0},
        {0, POLLIN, 0}};
    for (int w : lock_writers)
      fds.push_back({w, 0, 0}); // POLLERR: the reader closed its end
    ::poll(fds.data(), fds.size(), 1000);
    for (size_t i = 2; i < fds.size(); ++i)
      if ((fds[i].revents & (POLLERR | POLLHUP)) != 0) {
        std::printf("inhibitor released\n");
        std::fflush(stdout);
        ::close(fds[i].fd);
        lock_writers.erase(lock_writers.begin() + static_cast<long>(i - 2));
        break;
      }
    if ((fds[1].revents & (POLLIN | POLLHUP)) == 0)
      continue;
    char c;
    auto n = ::read(0, &c, 1);
    if (n <= 0)
      break; // stdin closed: done
    if (c != '\n') {
      line += c;
      continue;
    }
    if (line == "sleep" || line == "wake") {
      r = sd_bus_emit_signal(bus, "/org/freedesktop/login1",
                             "org.freedesktop.login1.Manager",
                             "PrepareForSleep", "b", line == "sleep" ? 1 : 0);
      if (r < 0)
        return fail("emitting PrepareForSleep", r);
      sd_bus_flush(bus);
      std::printf("sent %s\n", line.c_str());
      std::fflush(stdout);
    }
    line.clear();
  }
  sd_bus_slot_unref(slot);
  sd_bus_flush_close_unref(bus);
  return 0;
}
