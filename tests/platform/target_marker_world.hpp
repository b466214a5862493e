#pragma once

// The kernel side of Linux capture against the real kernel (root), in
// network namespaces the tests make: the target marker's test world,
// shared by target_marker_test.cpp (which sockets are marked, a killed
// engine's programs, sockets taken over) and target_fence_test.cpp (what
// the fence lets out).

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "actors/platform/linux/kernel_rules.hpp"
#include "actors/platform/linux/local_addresses.hpp"
#include "actors/platform/linux/procfs.hpp"
#include "actors/platform/linux/socket_adoption.hpp"
#include "actors/platform/linux/system.hpp"
#include "actors/platform/linux/target_marker.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/process.hpp"

namespace drover::test::target_marker_world {

using namespace drover::platform::linux_port;
using namespace std::chrono_literals;
using drover::test::child;
using drover::test::sh;
using drover::test::sh_output;
namespace fs = std::filesystem;

inline std::string cgroup_root() {
  std::ifstream in{"/proc/self/mountinfo"};
  std::stringstream s;
  s << in.rdbuf();
  auto found = find_cgroup2(s.str());
  return found ? found->mount_point : std::string{};
}

class target_marker_test : public ::testing::Test {
protected:
  void SetUp() override {
    if (!drover::test::is_root() || cgroup_root().empty())
      GTEST_SKIP() << "needs root and a cgroup2 mount";
    // Programs any user may run (the test runs some as nobody).
    dir = fs::temp_directory_path()
          / ("drover-marker-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    ::chmod(dir.c_str(), 0755);
    net = std::make_unique<drover::test::veth_pair>("mk", 79);
  }

  void TearDown() override {
    marker.reset();
    net.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // A copy of the test peer under `name`.
  std::string program(const std::string& name) {
    auto p = dir / name;
    fs::copy_file(DROVER_PEER, p, fs::copy_options::overwrite_existing);
    ::chmod(p.c_str(), 0755);
    return p.string();
  }

  // Attaches a marker serving the namespace `net.a`.
  void attach(marker_settings s = {}) {
    s.cgroup_root = cgroup_root();
    std::string error;
    marker = drover::test::inside(
        net->a, [&] { return target_marker::attach(s, error); });
    ASSERT_TRUE(marker) << error;
  }

  // One `proxy` rule per name.
  struct target_name {
    std::string name;
    bool with_children = false;
  };
  void targets(std::vector<target_name> names, std::vector<uint32_t> uids) {
    std::vector<drover::config::app_rule> list;
    for (auto& n : names) {
      drover::config::app_rule r;
      r.apps = {n.name};
      r.children = n.with_children;
      list.push_back(r);
    }
    rules(list, uids);
  }

  void rules(const std::vector<drover::config::app_rule>& list,
             std::vector<uint32_t> uids = {0}) {
    std::string error;
    std::vector<std::string> missing;
    ASSERT_TRUE(marker->set_rules(
        compile_rules(list, drover::config::not_proxying::block, {}, missing),
        error))
        << error;
    ASSERT_TRUE(marker->set_users(uids, error)) << error;
  }

  // Runs `argv` in namespace a, as `user` (empty: root); its output.
  // (nsenter, not `ip netns exec`, which hides the cgroup tree.)
  std::string run(std::vector<std::string> argv, const std::string& user = "") {
    std::vector<std::string> full{"nsenter",
                                  "--net=/run/netns/" + net->a.name()};
    if (!user.empty())
      for (auto a : {"setpriv", "--reuid", user.c_str(), "--regid",
                     user.c_str(), "--clear-groups"})
        full.emplace_back(a);
    full.insert(full.end(), argv.begin(), argv.end());
    child c{full};
    c.wait(20s);
    return c.output();
  }

  uint32_t mark_of(const std::string& out) {
    std::smatch m;
    if (!std::regex_search(out, m, std::regex{"mark tcp=(\\d+) udp=(\\d+)"}))
      return 1; // never a target mark
    EXPECT_EQ(m[1].str(), m[2].str()) << "TCP and UDP sockets alike";
    return static_cast<uint32_t>(std::stoul(m[1].str()));
  }

  fs::path dir;
  std::unique_ptr<drover::test::veth_pair> net;
  std::unique_ptr<target_marker> marker;
};

} // namespace drover::test::target_marker_world
