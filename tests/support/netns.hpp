#pragma once

// Network namespaces for tests (Linux, root): made by the test, removed by
// the destructor even when an assertion fails. Touches nothing outside them.

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sched.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace drover::test {

inline bool is_root() {
  return ::geteuid() == 0;
}

/// Runs a shell command; returns its exit status.
inline int sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/// Runs a shell command and returns what it printed.
inline std::string sh_output(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
      out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

inline bool have_command(const std::string& name) {
  return sh("command -v " + name + " >/dev/null 2>&1") == 0;
}

/// A named network namespace with loopback up.
class netns {
public:
  explicit netns(const std::string& tag)
      : name_("drover-t-" + tag + "-" + std::to_string(::getpid())) {
    sh("ip netns del " + name_ + " 2>/dev/null");
    if (sh("ip netns add " + name_) != 0)
      throw std::runtime_error("cannot create netns " + name_);
    sh("ip -n " + name_ + " link set lo up");
  }
  ~netns() { sh("ip netns del " + name_ + " 2>/dev/null"); }
  netns(const netns&) = delete;
  netns& operator=(const netns&) = delete;

  const std::string& name() const { return name_; }
  std::string exec(const std::string& cmd) const {
    return "ip netns exec " + name_ + " " + cmd;
  }

private:
  std::string name_;
};

/// Runs `f` with the calling thread inside `ns`, then switches back.
/// Sockets created inside stay in that namespace.
template<class F>
auto inside(const netns& ns, F&& f) {
  int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target
      = ::open(("/run/netns/" + ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
  if (self < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0)
    throw std::runtime_error("cannot enter netns " + ns.name());
  struct restore {
    int self, target;
    ~restore() {
      ::setns(self, CLONE_NEWNET);
      ::close(self);
      ::close(target);
    }
  } guard{self, target};
  return f();
}

/// Two namespaces joined by a veth pair: a = 10.x.0.1, b = 10.x.0.2.
struct veth_pair {
  netns a;
  netns b;
  std::string ip_a, ip_b;

  veth_pair(const std::string& tag, int subnet)
      : a(tag + "a"), b(tag + "b"),
        ip_a("10." + std::to_string(subnet) + ".0.1"),
        ip_b("10." + std::to_string(subnet) + ".0.2") {
    sh("ip -n " + a.name() + " link add veth0 type veth peer name veth1 netns "
       + b.name());
    sh("ip -n " + a.name() + " addr add " + ip_a + "/24 dev veth0");
    sh("ip -n " + b.name() + " addr add " + ip_b + "/24 dev veth1");
    sh("ip -n " + a.name() + " link set veth0 up");
    sh("ip -n " + b.name() + " link set veth1 up");
  }
};

/// A counter from /proc/net/snmp of the calling thread's namespace, e.g.
/// snmp_counter("Udp", "InCsumErrors").
inline long snmp_counter(const std::string& proto, const std::string& name) {
  std::ifstream in{"/proc/thread-self/net/snmp"};
  std::string header, values;
  while (std::getline(in, header) && std::getline(in, values)) {
    if (header.rfind(proto + ":", 0) != 0)
      continue;
    std::istringstream h{header}, v{values};
    std::string key, value;
    while (h >> key && v >> value)
      if (key == name)
        return std::stol(value);
  }
  return -1;
}

} // namespace drover::test
