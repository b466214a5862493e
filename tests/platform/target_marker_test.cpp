// The kernel side of Linux capture against the real kernel (root), in
// network namespaces the test makes (target_marker_world.hpp): which
// sockets the eBPF program marks (by name, by user, by cgroup, with
// children), how a killed engine's programs are replaced, and how the
// sockets a target had before are taken over.

#include <fcntl.h>

#include <map>

#include "actors/platform/linux/attached_programs.hpp"
#include "actors/platform/linux/netns_identity.hpp"
#include "tests/platform/target_marker_world.hpp"

using namespace drover::platform::linux_port;
using namespace drover::test::target_marker_world;

TEST_F(target_marker_test, a_targets_sockets_are_marked_from_its_first) {
  attach();
  targets({{"dvr-target", false}}, {0});
  auto target = marker->marks().target;
  EXPECT_EQ(mark_of(run({program("dvr-target"), "socket-mark"})), target);
  EXPECT_EQ(mark_of(run({program("dvr-other"), "socket-mark"})), 0u)
      << "the same program under another name";
  // Started by a symlink's name: the kernel knows it as the link's name.
  auto link = dir / "dvr-link";
  fs::create_symlink(program("dvr-real"), link);
  targets({{"dvr-link", false}}, {0});
  EXPECT_EQ(mark_of(run({link.string(), "socket-mark"})), target);
  // Outside the namespace the engine serves: never.
  child elsewhere{{program("dvr-link"), "socket-mark"}};
  elsewhere.wait(20s);
  EXPECT_EQ(mark_of(elsewhere.output()), 0u) << "another network namespace";
  EXPECT_GE(marker->counters().sockets_marked, 4u);
}

// Only the served user's programs: another user's (or a daemon's) program
// named like a target is not a target.
TEST_F(target_marker_test, another_users_program_named_like_a_target_is_not) {
  attach();
  targets({{"dvr-target", false}}, {65534});
  auto path = program("dvr-target");
  EXPECT_EQ(mark_of(run({path, "socket-mark"})), 0u) << "root is not served";
  EXPECT_EQ(mark_of(run({path, "socket-mark"}, "65534")),
            marker->marks().target);
}

// `drover run`'s cgroup: everything in it is a target, whatever its name
// or user.
TEST_F(target_marker_test, the_engines_cgroup_is_a_target_whole) {
  auto group = fs::path{cgroup_root()}
               / ("drover-marker-test-" + std::to_string(::getpid()));
  ASSERT_TRUE(fs::create_directory(group));
  struct remove_group {
    fs::path p;
    ~remove_group() { ::rmdir(p.c_str()); }
  } cleanup{group};
  struct stat st {};
  ASSERT_EQ(::stat(group.c_str(), &st), 0);
  marker_settings s;
  s.engine_cgroup_id = st.st_ino;
  s.engine_cgroup_level = 1;
  attach(s);
  targets({}, {});
  auto path = program("dvr-anything");
  EXPECT_EQ(mark_of(run({path, "socket-mark"})), 0u);
  auto out = run({"sh", "-c",
                  "echo $$ > " + (group / "cgroup.procs").string()
                      + " && exec setpriv --reuid 65534 --regid 65534 "
                        "--clear-groups "
                      + path + " socket-mark"});
  EXPECT_EQ(mark_of(out), marker->marks().target) << out;
}

// `drover run --proxy`: a proxy's group below the engine's marks its
// members' sockets with that proxy's index (the kernel program learns the
// group before anyone enters it); a group it was not told of counts as
// the engine's own (the first proxy). The group's life: members found by
// proxy, moved between groups, and every group gone at release.
TEST_F(target_marker_test, a_run_groups_members_go_through_its_proxy) {
  std::string error;
  auto group = target_cgroup::open(
      "drover-marker-run-" + std::to_string(::getpid()), error);
  ASSERT_TRUE(group) << error;
  auto at = fs::path{group->mount_point()} / group->rule_path();
  marker_settings s;
  s.engine_cgroup_id = group->id();
  s.engine_cgroup_level = group->level();
  attach(s);
  targets({}, {});
  auto third = group->make_proxy_group(3, error);
  ASSERT_NE(third, 0u) << error;
  ASSERT_TRUE(marker->set_run_group(third, 3, error)) << error;
  EXPECT_EQ(group->proxy_groups(),
            (std::vector<std::pair<uint64_t, uint32_t>>{{third, 3}}));
  auto path = program("dvr-anything");
  auto in = [&](const fs::path& where) {
    return run({"sh", "-c",
                "echo $$ > " + (where / "cgroup.procs").string() + " && exec "
                    + path + " socket-mark"});
  };
  auto out = in(at / "proxy-3");
  EXPECT_EQ(mark_of(out), marker->marks().target + 3) << out;
  ASSERT_TRUE(fs::create_directory(at / "unknown"));
  out = in(at / "unknown");
  EXPECT_EQ(mark_of(out), marker->marks().target) << out;
  ::rmdir((at / "unknown").c_str());
  // A member moves between proxies and is found by its proxy.
  child sleeper{{"sleep", "30"}};
  auto pid = sleeper.pid();
  ASSERT_TRUE(group->add(pid, 0, error)) << error;
  EXPECT_EQ(group->proxy_of(pid), 0);
  ASSERT_TRUE(group->add(pid, 3, error)) << error;
  EXPECT_EQ(group->proxy_of(pid), 3);
  EXPECT_EQ(group->proxy_of(::getpid()), -1);
  group->release();
  EXPECT_FALSE(fs::exists(at)) << "release removes every group";
  EXPECT_TRUE(sleeper.running()) << "its members go back, alive";
}

TEST_F(target_marker_test, children_are_targets_when_their_rule_says_so) {
  attach();
  auto shell = dir / "dvr-launcher";
  fs::copy_file("/bin/sh", shell);
  ::chmod(shell.c_str(), 0755);
  auto helper = program("dvr-helper");
  auto via_launcher = [&] {
    return mark_of(run({shell.string(), "-c", helper + " socket-mark"}));
  };
  targets({{"dvr-launcher", false}}, {0});
  EXPECT_EQ(via_launcher(), 0u) << "the launcher only";
  targets({{"dvr-launcher", true}}, {0});
  EXPECT_EQ(via_launcher(), marker->marks().target);
  // Unless an earlier rule matches the child itself.
  drover::config::app_rule launcher;
  launcher.apps = {"dvr-launcher"};
  launcher.children = true;
  drover::config::app_rule helper_blocked;
  helper_blocked.apps = {"dvr-helper"};
  helper_blocked.action = drover::config::rule_action::block;
  rules({launcher, helper_blocked});
  EXPECT_EQ(via_launcher(), marker->marks().target);
  rules({helper_blocked, launcher});
  EXPECT_EQ(via_launcher(), marker->marks().block);
}

// Rules, first match wins: a name by a pattern, an exact name, the action
// each says (the block mark, nothing for `direct`).
TEST_F(target_marker_test, the_first_rule_that_matches_decides) {
  attach();
  using drover::config::app_rule;
  using drover::config::rule_action;
  app_rule blocked;
  blocked.apps = {"dvr-b?ocked"};
  blocked.action = rule_action::block;
  app_rule direct;
  direct.apps = {"dvr-direct"};
  direct.action = rule_action::direct;
  app_rule proxied;
  proxied.apps = {"dvr-*", "win*.exe"};
  rules({blocked, direct, proxied});
  auto m = marker->marks();
  EXPECT_EQ(mark_of(run({program("dvr-blocked"), "socket-mark"})), m.block);
  EXPECT_EQ(mark_of(run({program("dvr-direct"), "socket-mark"})), 0u);
  EXPECT_EQ(mark_of(run({program("dvr-anything"), "socket-mark"})), m.target);
  EXPECT_EQ(mark_of(run({program("windiscord"), "socket-mark"})), m.target)
      << "a pattern's \".exe\" is optional on Linux too";
  EXPECT_EQ(mark_of(run({program("other-dvr-x"), "socket-mark"})), 0u);
  // The same rules in another order decide otherwise: the switch to the
  // new set is whole.
  rules({proxied, blocked, direct});
  EXPECT_EQ(mark_of(run({program("dvr-blocked"), "socket-mark"})), m.target);
  EXPECT_EQ(mark_of(run({program("dvr-direct"), "socket-mark"})), m.target);
}

// `paths` by the file itself (a symlink in the rule follows), `folders` by
// every folder above the executable, across a mount point.
TEST_F(target_marker_test, paths_and_folders_match_by_identity) {
  attach();
  using drover::config::app_rule;
  using drover::config::rule_action;
  fs::create_directories(dir / "apps" / "deep" / "er");
  fs::create_directories(dir / "mnt");
  ASSERT_EQ(sh("mount -t tmpfs dvr-test " + (dir / "mnt").string()), 0);
  struct unmount {
    fs::path p;
    ~unmount() { sh("umount -l " + p.string()); }
  } cleanup{dir / "mnt"};
  auto copy_to = [&](const fs::path& where) {
    fs::copy_file(DROVER_PEER, where, fs::copy_options::overwrite_existing);
    ::chmod(where.c_str(), 0755);
    return where.string();
  };
  auto exact = copy_to(dir / "exact-one");
  auto twin = copy_to(dir / "apps" / "exact-one-copy");
  auto deep = copy_to(dir / "apps" / "deep" / "er" / "dvr-deep");
  auto mounted = copy_to(dir / "mnt" / "dvr-mounted");
  fs::create_symlink(exact, dir / "exact-link");
  app_rule by_path;
  by_path.paths = {(dir / "exact-link").string()};
  app_rule by_folder;
  by_folder.folders = {(dir / "apps" / "deep").string()};
  by_folder.action = rule_action::block;
  app_rule above_mount;
  above_mount.folders = {dir.string() + "/"};
  above_mount.action = rule_action::block;
  rules({by_path, by_folder});
  auto m = marker->marks();
  EXPECT_EQ(mark_of(run({exact, "socket-mark"})), m.target);
  EXPECT_EQ(mark_of(run({twin, "socket-mark"})), 0u) << "another file";
  EXPECT_EQ(mark_of(run({deep, "socket-mark"})), m.block);
  EXPECT_EQ(mark_of(run({mounted, "socket-mark"})), 0u);
  rules({by_path, above_mount});
  EXPECT_EQ(mark_of(run({mounted, "socket-mark"})), m.block)
      << "the folder above a mount point holds what is mounted there";
  EXPECT_EQ(mark_of(run({exact, "socket-mark"})), m.target)
      << "the first rule still decides";
}

// While the proxy cannot be used, a rule whose fallback is direct leaves
// its programs' new sockets unmarked (they go direct), per protocol: a
// proxy without UDP is down for UDP only.
TEST_F(target_marker_test,
       a_direct_fallback_leaves_new_sockets_alone_while_down) {
  attach();
  drover::config::app_rule direct_fb;
  direct_fb.apps = {"dvr-fb-direct"};
  direct_fb.fallback = drover::config::rule_fallback::direct;
  drover::config::app_rule block_fb;
  block_fb.apps = {"dvr-fb-block"};
  rules({direct_fb, block_fb});
  auto marks_of = [&](const std::string& name) {
    auto out = run({program(name), "socket-mark"});
    std::smatch m;
    EXPECT_TRUE(
        std::regex_search(out, m, std::regex{"mark tcp=(\\d+) udp=(\\d+)"}))
        << out;
    return std::pair<uint32_t, uint32_t>{std::stoul(m[1].str()),
                                         std::stoul(m[2].str())};
  };
  auto t = marker->marks().target;
  using marks = std::pair<uint32_t, uint32_t>;
  EXPECT_EQ(marks_of("dvr-fb-direct"), (marks{t, t})) << "the proxy is up";
  std::string error;
  ASSERT_TRUE(marker->set_proxying(0, false, false, error)) << error;
  EXPECT_EQ(marks_of("dvr-fb-direct"), (marks{0, 0}));
  EXPECT_EQ(marks_of("dvr-fb-block"), (marks{t, t})) << "refused by the relay";
  ASSERT_TRUE(marker->set_proxying(0, true, false, error)) << error;
  EXPECT_EQ(marks_of("dvr-fb-direct"), (marks{t, 0})) << "TCP only";
  ASSERT_TRUE(marker->set_proxying(0, true, true, error)) << error;
  EXPECT_EQ(marks_of("dvr-fb-direct"), (marks{t, t}));
}

// Several proxies: a rule's sockets carry the target mark plus its proxy's
// index (the capture's rules send each to that proxy's relay), and one
// proxy down lets only its own direct-fallback rules' sockets go direct.
TEST_F(target_marker_test, each_rules_proxy_is_in_its_sockets_mark) {
  attach();
  std::vector<drover::config::app_rule> list(3);
  list[0].apps = {"dvr-first"}; // no `proxy`: the first
  list[1].apps = {"dvr-third"};
  list[1].proxy = "third";
  list[1].fallback = drover::config::rule_fallback::direct;
  list[2].apps = {"dvr-eighth"};
  list[2].proxy = "eighth";
  list[2].fallback = drover::config::rule_fallback::direct;
  std::vector<std::string> names{"first", "second", "third", "4",
                                 "5",     "6",      "7",     "eighth"};
  std::string error;
  std::vector<std::string> missing;
  ASSERT_TRUE(marker->set_rules(
      compile_rules(list, drover::config::not_proxying::block, names, missing),
      error))
      << error;
  ASSERT_TRUE(marker->set_users({0}, error)) << error;
  auto t = marker->marks().target;
  EXPECT_EQ(t & 7u, 0u) << "the low bits are the proxy's";
  EXPECT_EQ(mark_of(run({program("dvr-first"), "socket-mark"})), t);
  EXPECT_EQ(mark_of(run({program("dvr-third"), "socket-mark"})), t + 2);
  EXPECT_EQ(mark_of(run({program("dvr-eighth"), "socket-mark"})), t + 7);
  // The third proxy down: its rule's new sockets go direct; the eighth's
  // (same fallback, its proxy up) are still marked.
  ASSERT_TRUE(marker->set_proxying(2, false, false, error)) << error;
  EXPECT_EQ(mark_of(run({program("dvr-third"), "socket-mark"})), 0u);
  EXPECT_EQ(mark_of(run({program("dvr-eighth"), "socket-mark"})), t + 7);
  ASSERT_TRUE(marker->set_proxying(2, true, true, error)) << error;
  EXPECT_EQ(mark_of(run({program("dvr-third"), "socket-mark"})), t + 2);
}

// A killed engine under `ip netns exec` leaves its empty cgroup2 folder
// in the runtime folder; the next engine removes those of namespaces that
// are gone, never a live one's (it may be mounted in another engine's
// view) nor anything else.
TEST(cgroup_mounts, the_folders_of_gone_namespaces_are_swept) {
  auto dir = fs::temp_directory_path()
             / ("drover-sweep-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto gone = dir / "cgroup2-1"; // inode 1 is never a namespace
  auto live = dir / ("cgroup2-" + std::to_string(netns_inode()));
  auto full = dir / "cgroup2-2";
  auto other = dir / "control-1.sock.d";
  for (auto& d : {gone, live, full, other})
    fs::create_directory(d);
  std::ofstream{full / "kept"} << "not empty\n";
  EXPECT_EQ(sweep_dead_cgroup_mounts(dir), 1);
  EXPECT_FALSE(fs::exists(gone));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(full));
  EXPECT_TRUE(fs::exists(other));
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(capture_marks, namespaces_made_near_each_other_get_their_own) {
  std::set<uint32_t> seen;
  for (uint64_t cookie = 4090; cookie < 4110; ++cookie) {
    auto m = marks_for(cookie);
    EXPECT_EQ(m.target & 7u, 0u) << "the proxy's index is added to it";
    EXPECT_NE(m.target & 0xfff8u, 0u);
    EXPECT_TRUE(seen.insert(m.target).second) << cookie;
  }
  // A mark another engine holds is passed over, to one nobody holds.
  auto first = marks_for(4096);
  auto moved = marks_for(4096, {first.target, first.target + 8});
  EXPECT_EQ(moved.target, first.target + 16);
  EXPECT_EQ(moved.pass & 0xffffu, moved.target & 0xffffu);
  EXPECT_EQ(moved.block & 0xffffu, moved.target & 0xffffu);
  // The low 13 bits all 0: still a namespace part that is not 0.
  EXPECT_NE(marks_for(0x2000).target & 0xfff8u, 0u);
}

namespace {

// A process that attaches an engine's programs for `ns` and ends without
// its destructors, as if killed: its programs stay attached. Whether it
// could attach them.
bool attached_then_killed(const drover::test::netns& ns) {
  int ready[2];
  if (::pipe(ready) != 0)
    return false;
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string error;
    marker_settings s;
    s.cgroup_root = cgroup_root();
    auto m = drover::test::inside(
        ns, [&] { return target_marker::attach(s, error); });
    char ok = m ? 'y' : 'n';
    (void)!::write(ready[1], &ok, 1);
    ::_exit(0); // no destructor: as if killed
  }
  ::close(ready[1]); // a child that died first: the read ends, not waits
  char ok = 0;
  bool told = pid > 0 && ::read(ready[0], &ok, 1) == 1;
  if (pid > 0)
    ::waitpid(pid, nullptr, 0);
  ::close(ready[0]);
  return told && ok == 'y';
}

} // namespace

// A killed engine's programs stay attached (nothing goes direct meanwhile)
// until the next engine's replace them.
TEST_F(target_marker_test, a_killed_engines_programs_are_replaced) {
  ASSERT_TRUE(attached_then_killed(net->a));
  attach();
  EXPECT_EQ(marker->replaced(), 4)
      << "its marking, its fence and its two refusals of IPv6";
}

// Sockets a process had before it became a target: marked, and a
// connection it holds is aborted so it reconnects (proxied); one to
// loopback is left alone. A process that is not the one the scan saw (its
// ID reused: another start time) is left alone.
TEST_F(target_marker_test, sockets_made_before_are_taken_over) {
  child server{{"ip", "netns", "exec", net->b.name(), DROVER_PEER, "tcp-echo",
                net->ip_b, "7"}};
  ASSERT_TRUE(server.wait_for_output("listening", 10s));
  child local_server{{"ip", "netns", "exec", net->a.name(), DROVER_PEER,
                      "tcp-echo", "127.0.0.1", "7"}};
  ASSERT_TRUE(local_server.wait_for_output("listening", 10s));
  child remote{{"ip", "netns", "exec", net->a.name(), DROVER_PEER, "hold-tcp",
                net->ip_b, "7"}};
  child local{{"ip", "netns", "exec", net->a.name(), DROVER_PEER, "hold-tcp",
               "127.0.0.1", "7"}};
  ASSERT_TRUE(remote.wait_for_output("connected", 10s)) << remote.output();
  ASSERT_TRUE(local.wait_for_output("connected", 10s)) << local.output();
  std::string error;
  constexpr uint32_t mark = 0x44530abc;
  std::ifstream stat{"/proc/" + std::to_string(remote.pid()) + "/stat"};
  std::string line;
  std::getline(stat, line);
  auto fields = parse_stat_line(line);
  ASSERT_TRUE(fields && fields->started != 0) << line;
  auto started = fields->started;
  auto other = drover::test::inside(net->a, [&] {
    return adopt_sockets(remote.pid(), started + 1, mark, {}, error);
  });
  EXPECT_EQ(error, "");
  EXPECT_EQ(other.marked, 0u) << "another process under the same ID";
  EXPECT_EQ(other.reset, 0u);
  EXPECT_TRUE(other.gone) << "said, so procscan does not log a take-up";
  auto taken = drover::test::inside(net->a, [&] {
    return adopt_sockets(remote.pid(), started, mark, {}, error);
  });
  EXPECT_EQ(error, "");
  EXPECT_EQ(taken.marked, 1u);
  EXPECT_EQ(taken.reset, 1u);
  EXPECT_FALSE(taken.gone);
  EXPECT_TRUE(remote.wait_for_output("ended", 10s));
  EXPECT_NE(remote.output().find("Software caused connection abort"),
            std::string::npos)
      << remote.output();
  auto kept = drover::test::inside(
      net->a, [&] { return adopt_sockets(local.pid(), 0, mark, {}, error); });
  EXPECT_EQ(kept.marked, 1u);
  EXPECT_EQ(kept.reset, 0u) << "loopback is never captured";
  // Taken over already: nothing to do a second time.
  auto again = drover::test::inside(
      net->a, [&] { return adopt_sockets(local.pid(), 0, mark, {}, error); });
  EXPECT_EQ(again.marked, 0u);
}

// `drover unblock` takes what an engine of its own namespace left, and the
// programs of engines whose namespace is gone (reported apart: they held
// nothing back), never those of an engine serving a namespace still there.
TEST_F(target_marker_test, unblock_takes_its_own_and_a_gone_namespaces_only) {
  auto gone = std::make_unique<drover::test::netns>("ug");
  auto gone_inode = drover::test::inside(*gone, [] { return netns_inode(); });
  auto gone_cookie = drover::test::inside(*gone, [] { return netns_cookie(); });
  ASSERT_TRUE(attached_then_killed(*gone));
  ASSERT_TRUE(attached_then_killed(net->a));
  drover::test::netns next_door{"un"};
  auto next_door_cookie
      = drover::test::inside(next_door, [] { return netns_cookie(); });
  std::string error;
  marker_settings s;
  s.cgroup_root = cgroup_root();
  auto running = drover::test::inside(
      next_door, [&] { return target_marker::attach(s, error); });
  ASSERT_TRUE(running) << error;
  gone.reset();
  auto left = drover::test::inside(
      net->a, [&] { return detach_programs_left(cgroup_root()); });
  EXPECT_EQ(left.own, 4);
  // (left.orphaned counts any gone namespace's, other tests' too; and an
  // engine starting in a parallel test may sweep the gone one's first: the
  // programs still attached tell.)
  std::map<uint64_t, int> attached;
  fd_guard root{::open(cgroup_root().c_str(), O_RDONLY | O_DIRECTORY)};
  for_each_program(root.fd, [&](const found_program& p, int, bpf_attach_type) {
    ++attached[p.cookie];
  });
  EXPECT_EQ(attached[next_door_cookie], 4) << "a running engine's stay";
  // (The kernel may already have given the gone one's inode to a namespace
  // made since, by another test: then its programs look alive and stay.)
  if (!netns_in_use(gone_inode)) {
    EXPECT_EQ(attached[gone_cookie], 0) << "a gone namespace's go";
  }
  auto again = drover::test::inside(
      net->a, [&] { return detach_programs_left(cgroup_root()); });
  EXPECT_EQ(again.own, 0);
}
