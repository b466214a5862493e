#include "actors/platform/process.hpp"

#include <csignal>
#include <pthread.h>
#include <unistd.h>

namespace drover::platform {

namespace {

sigset_t termination_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
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

unsigned long current_process_id() {
  return static_cast<unsigned long>(::getpid());
}

} // namespace drover::platform
