// The Windows capture's target set: IDs added and forgotten, a copy taken
// only when it changed, blocked ones kept apart, the rules applied the way
// Windows compares file names and paths.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "actors/platform/target_set.hpp"

using drover::config::app_rule;
using drover::config::rule_action;
using drover::platform::process_entry;
using drover::platform::target_set;

TEST(target_set, ids_are_added_once_and_forgotten) {
  target_set t;
  t.add(42);
  t.add(7);
  t.add(42);
  EXPECT_TRUE(t.contains(42));
  EXPECT_TRUE(t.contains(7));
  t.remove(42);
  EXPECT_FALSE(t.contains(42));
  t.remove(1000); // not there: nothing changes
  EXPECT_TRUE(t.contains(7));
}

TEST(target_set, a_copy_is_taken_only_when_the_set_changed) {
  target_set t;
  std::vector<uint32_t> copy;
  std::vector<uint32_t> blocked;
  std::vector<uint32_t> direct;
  std::vector<std::pair<uint32_t, uint8_t>> proxies;
  uint64_t seen = ~uint64_t{0};
  t.add(9);
  t.add(3);
  t.refresh(copy, blocked, direct, proxies, seen);
  EXPECT_EQ(copy, (std::vector<uint32_t>{3, 9})); // sorted
  copy.clear();
  t.refresh(copy, blocked, direct, proxies, seen);
  EXPECT_TRUE(copy.empty()); // unchanged: not copied again
  t.add(3);                  // already there: no new generation
  t.refresh(copy, blocked, direct, proxies, seen);
  EXPECT_TRUE(copy.empty());
  t.remove(9);
  t.refresh(copy, blocked, direct, proxies, seen);
  EXPECT_EQ(copy, (std::vector<uint32_t>{3}));
  t.add(5, rule_action::block);
  t.refresh(copy, blocked, direct, proxies, seen);
  EXPECT_EQ(copy, (std::vector<uint32_t>{3, 5})) << "captured, to be refused";
  EXPECT_EQ(blocked, (std::vector<uint32_t>{5}));
  EXPECT_TRUE(t.blocked(5));
  EXPECT_FALSE(t.blocked(3));
  t.add(5, rule_action::proxy, true); // a new rule: a target after all
  t.refresh(copy, blocked, direct, proxies, seen);
  EXPECT_TRUE(blocked.empty());
  EXPECT_EQ(direct, (std::vector<uint32_t>{5})) << "its fallback is direct";
  // A thread's view of it: copied when it changed, read without the lock.
  drover::platform::target_view view;
  view.watch(&t);
  EXPECT_TRUE(view.captured(5));
  EXPECT_TRUE(view.direct_when_down(5));
  EXPECT_FALSE(view.blocked(5));
  t.add(5, rule_action::block);
  EXPECT_TRUE(view.captured(5));
  EXPECT_TRUE(view.blocked(5));
  EXPECT_FALSE(view.direct_when_down(5));
}

// Several proxies: a target's rule's proxy goes with it, to the port's
// packets (and so to its flows' proxy).
TEST(target_set, each_target_carries_its_rules_proxy) {
  target_set t;
  app_rule first;
  first.apps = {"Discord.exe"};
  app_rule browser;
  browser.apps = {"firefox.exe"};
  browser.proxy = "work";
  app_rule gone;
  gone.apps = {"old.exe"};
  gone.proxy = "nowhere"; // no such proxy: the first
  t.set_rules({first, browser, gone}, drover::config::not_proxying::block,
              {"home", "work"});
  drover::platform::process_entry p;
  p.name = "FireFox.exe";
  auto said = t.decide(p, {});
  EXPECT_EQ(said.action, rule_action::proxy);
  EXPECT_EQ(said.proxy, 1);
  p.name = "Discord.exe";
  EXPECT_EQ(t.decide(p, {}).proxy, 0);
  p.name = "old.exe";
  EXPECT_EQ(t.decide(p, {}).proxy, 0);
  t.add(40, rule_action::proxy, false, 1);
  t.add(41);
  drover::platform::target_view view;
  view.watch(&t);
  EXPECT_TRUE(view.captured(40));
  EXPECT_EQ(view.proxy(40), 1);
  EXPECT_EQ(view.proxy(41), 0);
  t.add(40, rule_action::block); // blocked now: no proxy
  EXPECT_TRUE(view.captured(40));
  EXPECT_EQ(view.proxy(40), 0);
}

TEST(target_set, rules_match_whole_names_and_paths_without_regard_to_case) {
  target_set t;
  app_rule discord;
  discord.apps = {"Discord.exe", "Update.exe"};
  app_rule games;
  games.folders = {"C:\\Games"};
  games.action = rule_action::block;
  app_rule launcher;
  launcher.paths = {"c:/tools/launcher.exe"};
  launcher.children = true;
  t.set_rules({discord, games, launcher});
  auto is = [&](std::string name, std::string path,
                std::vector<process_entry> up = {}) {
    process_entry p;
    p.name = std::move(name);
    p.path = std::move(path);
    return t.decide(p, up).action;
  };
  EXPECT_EQ(is("discord.EXE", ""), rule_action::proxy);
  EXPECT_EQ(is("UPDATE.exe", ""), rule_action::proxy);
  EXPECT_EQ(is("Discord.exe.bak", ""), rule_action::direct);
  EXPECT_EQ(is("iscord.exe", ""), rule_action::direct);
  EXPECT_EQ(is("", ""), rule_action::direct);
  EXPECT_EQ(is("x.exe", "c:\\games\\sub\\x.exe"), rule_action::block);
  EXPECT_EQ(is("x.exe", "C:\\GamesToo\\x.exe"), rule_action::direct);
  process_entry parent;
  parent.name = "Launcher.exe";
  parent.path = "C:\\Tools\\Launcher.exe";
  EXPECT_TRUE(t.any_children());
  EXPECT_EQ(is("child.exe", "C:\\x\\child.exe", {parent}), rule_action::proxy);
  EXPECT_EQ(is("child.exe", "C:\\Games\\child.exe", {parent}),
            rule_action::block)
      << "its own match comes first";
  // The fallback: the rule's own, else [targets]'.
  process_entry d;
  d.name = "discord.exe";
  EXPECT_FALSE(t.decide(d, {}).direct_when_down);
  t.set_rules({discord}, drover::config::not_proxying::direct);
  EXPECT_TRUE(t.decide(d, {}).direct_when_down);
  discord.fallback = drover::config::rule_fallback::block;
  t.set_rules({discord}, drover::config::not_proxying::direct);
  EXPECT_FALSE(t.decide(d, {}).direct_when_down);
}

// `drover run`'s program is a run root: every process it starts goes
// through the root's proxy, whatever the rules say of its name (as the run
// cgroup does on Linux); a root's reused ID (another creation time) is not
// it.
TEST(target_set, a_run_roots_descendants_go_through_its_proxy) {
  target_set t;
  app_rule blocked;
  blocked.apps = {"game.exe"};
  blocked.action = rule_action::block;
  app_rule direct_when_down;
  direct_when_down.apps = {"discord.exe"};
  direct_when_down.fallback = drover::config::rule_fallback::direct;
  t.set_rules({blocked, direct_when_down});
  process_entry child;
  child.pid = 51;
  child.name = "game.exe";
  process_entry root;
  root.pid = 50;
  root.name = "shell.exe";
  root.created = 1000;
  EXPECT_FALSE(t.any_children());
  EXPECT_EQ(t.decide(child, {root}).action, rule_action::block);

  t.add_run_root(50, 1000, 2);
  EXPECT_TRUE(t.any_children()) << "a new process's ancestors matter now";
  EXPECT_TRUE(t.contains(50));
  EXPECT_FALSE(t.blocked(50));
  drover::platform::target_view view;
  view.watch(&t);
  EXPECT_TRUE(view.captured(50));
  EXPECT_EQ(view.proxy(50), 2);
  EXPECT_FALSE(view.direct_when_down(50));

  process_entry other;
  other.pid = 7;
  other.name = "explorer.exe";
  auto said = t.decide(child, {root, other});
  EXPECT_EQ(said.action, rule_action::proxy);
  EXPECT_EQ(said.proxy, 2);
  EXPECT_FALSE(said.direct_when_down);
  // A grandchild, with a rule of its own whose fallback is direct.
  process_entry grandchild;
  grandchild.pid = 52;
  grandchild.name = "Discord.exe";
  said = t.decide(grandchild, {child, root});
  EXPECT_EQ(said.action, rule_action::proxy);
  EXPECT_EQ(said.proxy, 2);
  EXPECT_FALSE(said.direct_when_down) << "its rule's fallback does not apply";

  // ID 50 reused by a program made later: not the root.
  process_entry reused = root;
  reused.created = 2000;
  EXPECT_EQ(t.decide(child, {reused}).action, rule_action::block);
  EXPECT_EQ(t.decide(child, {other}).action, rule_action::block);
}

// The paths noted since the last look, without waiting.
static std::vector<std::string> new_programs(drover::platform::target_set& t) {
  std::vector<std::string> fresh;
  t.wait_for_new_programs(std::chrono::milliseconds{0}, fresh);
  return fresh;
}

// The programs the guard keeps offline should the engine be killed: each
// path handed on once, whatever its case, and the list bounded.
TEST(target_set, each_captured_program_is_handed_on_once) {
  drover::platform::target_set t;
  EXPECT_TRUE(new_programs(t).empty());
  t.note_program(R"(C:\Users\a\AppData\Local\Discord\app-1.0.9\Discord.exe)");
  t.note_program(R"(c:\users\a\appdata\local\discord\app-1.0.9\discord.exe)");
  t.note_program("");
  t.note_program(R"(C:\Windows\System32\cmd.exe)");
  auto taken = new_programs(t);
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0],
            R"(C:\Users\a\AppData\Local\Discord\app-1.0.9\Discord.exe)")
      << "handed on as the OS gave it";
  EXPECT_EQ(taken[1], R"(C:\Windows\System32\cmd.exe)");
  EXPECT_TRUE(new_programs(t).empty());
  t.note_program(R"(C:\Windows\System32\CMD.EXE)");
  EXPECT_TRUE(new_programs(t).empty()) << "seen before";

  for (size_t i = 0; i < drover::platform::target_set::programs_cap + 10; ++i)
    t.note_program("C:\\p\\" + std::to_string(i) + ".exe");
  EXPECT_EQ(new_programs(t).size(),
            drover::platform::target_set::programs_cap - 2);
}

// The guard's blocker thread waits for programs rather than polling: woken
// by the note itself, and let go at once at Stop.
TEST(target_set, a_waiting_blocker_is_woken_by_a_new_program) {
  drover::platform::target_set t;
  std::vector<std::string> fresh;
  auto before = std::chrono::steady_clock::now();
  std::thread noter{[&] {
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    t.note_program(R"(C:\Windows\System32\cmd.exe)");
  }};
  EXPECT_TRUE(t.wait_for_new_programs(std::chrono::seconds{30}, fresh));
  noter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds{20})
      << "woken by the note, not by the time limit";
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_TRUE(new_programs(t).empty()) << "taken by the waiter";

  std::thread stopper{[&] {
    t.stop_waiting();
  }};
  EXPECT_FALSE(t.wait_for_new_programs(std::chrono::seconds{30}, fresh));
  stopper.join();
  EXPECT_TRUE(fresh.empty());
  EXPECT_FALSE(t.wait_for_new_programs(std::chrono::seconds{30}, fresh))
      << "stopped stays stopped";
}
