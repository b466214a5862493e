#include "actors/platform/power_events.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>

#include <systemd/sd-bus.h>

#include "actors/platform/linux/wakeup.hpp"

namespace drover::platform {

namespace {

constexpr const char* login1 = "org.freedesktop.login1";
constexpr const char* login1_path = "/org/freedesktop/login1";
constexpr const char* manager = "org.freedesktop.login1.Manager";

std::string bus_error(const char* what, int r) {
  return std::string{what} + ": " + std::strerror(-r);
}

} // namespace

struct power_events::impl {
  sd_bus* bus = nullptr;
  sd_bus_slot* match = nullptr;
  linux_port::wakeup_event wakeup; // stop() signals it
  std::atomic<int> delay_lock{-1}; // the inhibitor's fd, -1 when none
  std::atomic<bool> stopped{false};
  std::deque<event> pending; // signals sd-bus delivered, not yet returned
  bool first_wake = true;
  std::string error;

  // Asks logind for a delay lock; without one Drover still pauses, only
  // possibly after the machine slept.
  void take_delay_lock() {
    if (delay_lock.load() >= 0)
      return;
    sd_bus_error err = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(
        bus, login1, login1_path, manager, "Inhibit", &err, &reply, "ssss",
        "sleep", "Drover", "Closing proxied connections before sleep", "delay");
    int fd = -1;
    if (r >= 0 && sd_bus_message_read(reply, "h", &fd) >= 0 && fd >= 0)
      delay_lock.store(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
    sd_bus_message_unref(reply);
    sd_bus_error_free(&err);
  }

  void release_delay_lock() {
    int fd = delay_lock.exchange(-1);
    if (fd >= 0)
      ::close(fd);
  }

  static int on_prepare_for_sleep(sd_bus_message* m, void* userdata,
                                  sd_bus_error*) {
    auto* self = static_cast<impl*>(userdata);
    int going_to_sleep = 0;
    if (sd_bus_message_read(m, "b", &going_to_sleep) < 0)
      return 0; // a malformed signal: ignored
    self->pending.push_back(going_to_sleep != 0 ? event::sleep : event::wake);
    return 0;
  }
};

power_events::power_events() : impl_(std::make_unique<impl>()) {
  auto& d = *impl_;
  if (!d.wakeup.ok()) {
    d.error = bus_error("cannot make an eventfd", -errno);
    return;
  }
  // DBUS_SYSTEM_BUS_ADDRESS, when set, names the bus (the tests use that).
  if (int r = sd_bus_open_system(&d.bus); r < 0) {
    d.bus = nullptr;
    d.error = bus_error("cannot connect to the system bus", r);
    return;
  }
  sd_bus_set_method_call_timeout(d.bus, 2'000'000); // µs: never hang
  if (int r
      = sd_bus_match_signal(d.bus, &d.match, login1, login1_path, manager,
                            "PrepareForSleep", &impl::on_prepare_for_sleep, &d);
      r < 0) {
    d.error = bus_error("cannot subscribe to logind's PrepareForSleep", r);
    return;
  }
  // The delay lock is asked for on wait()'s thread: a method call may take
  // up to its timeout.
  d.pending.push_back(event::wake);
}

power_events::~power_events() {
  auto& d = *impl_;
  d.release_delay_lock();
  sd_bus_slot_unref(d.match);
  sd_bus_flush_close_unref(d.bus);
}

bool power_events::ok() const {
  return impl_->error.empty();
}

const std::string& power_events::error() const {
  return impl_->error;
}

power_events::event power_events::wait() {
  auto& d = *impl_;
  if (!ok())
    return event::failed;
  for (;;) {
    if (d.stopped.load())
      return event::stopped;
    if (!d.pending.empty()) {
      auto e = d.pending.front();
      d.pending.pop_front();
      if (e != event::wake)
        return e;
      d.take_delay_lock(); // awake: hold a delay lock for the next sleep
      if (d.first_wake) {
        d.first_wake = false; // the one queued at start: not a real wake
        continue;
      }
      return e;
    }
    int r = sd_bus_process(d.bus, nullptr);
    if (r < 0) {
      d.error = bus_error("the system bus connection broke", r);
      return event::failed;
    }
    if (r > 0)
      continue; // more to process
    pollfd fds[2] = {
        {sd_bus_get_fd(d.bus), static_cast<short>(sd_bus_get_events(d.bus)), 0},
        {d.wakeup.fd(), POLLIN, 0}};
    // sd-bus's own deadline (a method call's timeout), CLOCK_MONOTONIC µs.
    uint64_t until = 0;
    int timeout = -1;
    if (sd_bus_get_timeout(d.bus, &until) >= 0 && until != UINT64_MAX) {
      timespec now{};
      ::clock_gettime(CLOCK_MONOTONIC, &now);
      auto now_us = static_cast<uint64_t>(now.tv_sec) * 1'000'000u
                    + static_cast<uint64_t>(now.tv_nsec) / 1000u;
      timeout = until <= now_us ? 0
                                : static_cast<int>(std::min<uint64_t>(
                                    (until - now_us) / 1000u + 1, 60'000u));
    }
    if (::poll(fds, 2, timeout) < 0 && errno != EINTR) {
      d.error = bus_error("poll failed", -errno);
      return event::failed;
    }
  }
}

void power_events::ready_to_sleep() {
  impl_->release_delay_lock();
}

void power_events::stop() {
  impl_->stopped.store(true);
  impl_->wakeup.signal();
}

} // namespace drover::platform
