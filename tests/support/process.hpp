#pragma once

// Child processes for end-to-end tests (Linux): started with pipes on
// stdin and stdout+stderr, killed and reaped by the destructor even when an
// assertion fails. Every wait is bounded.

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

namespace drover::test {

class child {
public:
  explicit child(const std::vector<std::string>& argv,
                 const std::vector<std::string>& env = {}) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
      return;
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_copy = env;
    // A child that exited before reading what the test writes to it must
    // not kill the test (and leave its other children running).
    ::signal(SIGPIPE, SIG_IGN);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::signal(SIGPIPE, SIG_DFL); // the program gets the usual default
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(out[1], 2);
      ::setpgid(0, 0); // its own group: kill() reaches its children too
      for (auto& e : env_copy)
        ::putenv(const_cast<char*>(e.c_str()));
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
    ::fcntl(out_, F_SETFL, O_NONBLOCK);
  }

  ~child() {
    if (running())
      kill(SIGKILL);
    wait(std::chrono::seconds{10});
    if (in_ >= 0)
      ::close(in_);
    if (out_ >= 0)
      ::close(out_);
  }

  child(const child&) = delete;
  child& operator=(const child&) = delete;

  pid_t pid() const { return pid_; }

  bool running() { return pid_ > 0 && !exited_ && !reap(WNOHANG); }

  void kill(int sig) {
    if (pid_ > 0 && !exited_)
      ::kill(-pid_, sig);
  }

  void write_line(const std::string& line) {
    auto s = line + "\n";
    (void)!::write(in_, s.data(), s.size());
  }

  /// Waits for the exit; returns the exit code (128 + signal), or -1 on
  /// timeout.
  int wait(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!exited_) {
      drain(50);
      if (reap(WNOHANG))
        break;
      if (std::chrono::steady_clock::now() > deadline)
        return -1;
    }
    drain(0);
    return code_;
  }

  /// Waits for the exit without reaping it: until wait() the process
  /// stays a zombie whose /proc/<pid>/stat still holds what it used (its
  /// whole CPU time, with none of its own children's). False on timeout.
  bool wait_unreaped(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!exited_) {
      drain(50);
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid_), &info,
                   WEXITED | WNOHANG | WNOWAIT)
              == 0
          && info.si_pid == pid_)
        return true;
      if (std::chrono::steady_clock::now() > deadline)
        return false;
    }
    return false;
  }

  /// Waits until the output from offset `from` on contains `text`; false
  /// on timeout or exit.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds limit,
                       size_t from = 0) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    auto found = [&] {
      return output_.size() >= from
             && output_.find(text, from) != std::string::npos;
    };
    while (!found()) {
      if (!running()) {
        drain(0); // what it wrote before it ended
        return found();
      }
      if (std::chrono::steady_clock::now() > deadline)
        return found();
      drain(50);
    }
    return true;
  }

  const std::string& output() {
    drain(0);
    return output_;
  }

private:
  bool reap(int flags) {
    if (exited_)
      return true;
    int status = 0;
    auto r = ::waitpid(pid_, &status, flags);
    if (r != pid_)
      return false;
    exited_ = true;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }

  void drain(int timeout_ms) {
    if (out_ < 0)
      return;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0)
      return;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out_, buf, sizeof buf)) > 0)
      output_.append(buf, static_cast<size_t>(n));
  }

  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  bool exited_ = false;
  int code_ = -1;
  std::string output_;
};

/// The resident memory of process `pid`, in KiB (-1 if it is gone).
inline long rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

/// How many descriptors process `pid` has open (-1 if it is gone).
inline long open_descriptors(pid_t pid) {
  long n = -2; // . and ..
  auto* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr)
    return -1;
  while (::readdir(d) != nullptr)
    ++n;
  ::closedir(d);
  return n;
}

} // namespace drover::test
