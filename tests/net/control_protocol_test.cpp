// The control socket's requests as the engine reads them: what it takes,
// what it waits for, and what it turns away.
#include <string>

#include <gtest/gtest.h>

#include "net/control_protocol.hpp"

using namespace drover::net::control;
using state = request::state;

TEST(control_protocol, each_command_by_its_exact_line) {
  struct known {
    const char* line;
    command_kind kind;
  };
  for (auto [line, kind] : std::initializer_list<known>{
           {"status\n", command_kind::status},
           {"status json\n", command_kind::status_json},
           {"follow json\r\n", command_kind::follow_json},
           {"stop\n", command_kind::stop},
           {"trace off\n", command_kind::trace_off},
           {"config get\n", command_kind::config_get},
       }) {
    auto r = read_request(line, 100);
    EXPECT_EQ(r.result, state::complete) << line;
    EXPECT_EQ(r.kind, kind) << line;
  }
  for (auto line :
       {"Status\n", "status \n", "statusjson\n", "trace\n", "config set\n"}) {
    auto r = read_request(line, 100);
    EXPECT_EQ(r.kind, command_kind::unknown) << line;
  }
}

TEST(control_protocol, a_line_comes_whole_or_not_at_all) {
  EXPECT_EQ(read_request("", 100).result, state::need_more);
  EXPECT_EQ(read_request("stat", 100).result, state::need_more);
  EXPECT_EQ(read_request(std::string(max_command_line, 'x'), 100).result,
            state::need_more);
  auto r = read_request(std::string(max_command_line + 1, 'x'), 100);
  EXPECT_EQ(r.result, state::refused);
  EXPECT_EQ(r.error, "") << "not a client of ours: the door, no answer";
  EXPECT_EQ(read_request(std::string(300, 'x') + "\n", 100).result,
            state::refused);
}

TEST(control_protocol, config_set_takes_exactly_its_size) {
  auto r = read_request("config set 5\nab", 100);
  EXPECT_EQ(r.result, state::need_more);
  EXPECT_TRUE(r.line_complete) << "rights are checked before the body";
  EXPECT_EQ(r.kind, command_kind::config_set);
  r = read_request("config set 5\nabcdeEXTRA", 100);
  EXPECT_EQ(r.result, state::complete);
  EXPECT_EQ(r.body, "abcde");
  r = read_request("config set 0\n", 100);
  EXPECT_EQ(r.result, state::complete);
  EXPECT_EQ(r.body, "");
  for (auto line : {"config set 101\n", "config set -1\n", "config set +5\n",
                    "config set 5x\n", "config set  5\n", "config set 0x10\n",
                    "config set 99999999999999999999\n", "config set \n"}) {
    auto bad = read_request(line, 100);
    EXPECT_EQ(bad.result, state::refused) << line;
    EXPECT_EQ(bad.error, "error\nconfig set: the size must be a number up to "
                         "100\n")
        << line;
    EXPECT_TRUE(changes_things(bad.kind)) << "refused to a looker first";
  }
}

TEST(control_protocol, what_a_client_sent_comes_back_printable) {
  auto r = read_request(std::string{"\x01\xff\x1bst\tatus"} + "\n", 100);
  EXPECT_EQ(r.kind, command_kind::unknown);
  EXPECT_EQ(r.argument, "???st?atus");
  r = read_request("fault flood \x07 9\n", 100);
  EXPECT_EQ(r.kind, command_kind::fault);
  EXPECT_EQ(r.argument, "flood ? 9");
  EXPECT_EQ(read_request(std::string(150, 'y') + "\n", 100).argument,
            std::string(40, 'y'));
}

TEST(control_protocol, only_the_owner_may_change_things) {
  for (auto k :
       {command_kind::config_set, command_kind::quit, command_kind::trace_on,
        command_kind::trace_off, command_kind::fault})
    EXPECT_TRUE(changes_things(k));
  for (auto k :
       {command_kind::status, command_kind::status_json, command_kind::follow,
        command_kind::follow_json, command_kind::start, command_kind::stop,
        command_kind::retry, command_kind::config_get, command_kind::unknown})
    EXPECT_FALSE(changes_things(k));
}

// `run PID`: a process number, nothing else; which process it may be (the
// caller or its child) is the engine's to check against the kernel's word.
TEST(control_protocol, run_takes_a_process_number_only) {
  auto r = read_request("run 4242\n", 100);
  EXPECT_EQ(r.result, state::complete);
  EXPECT_EQ(r.kind, command_kind::run);
  EXPECT_EQ(r.pid, 4242u);
  EXPECT_FALSE(changes_things(command_kind::run))
      << "any caller the socket admits may put its own process in place";
  EXPECT_EQ(r.argument, "") << "no name: the first proxy";
  EXPECT_EQ(read_request("run 2147483647\n", 100).pid, 2147483647u);
  // `run PID NAME`: through the proxy NAME (spaces allowed; printable, cut
  // at 40 like check's; the engine says whether a proxy has it).
  auto named = read_request("run 4242 home office\n", 100);
  EXPECT_EQ(named.result, state::complete);
  EXPECT_EQ(named.pid, 4242u);
  EXPECT_EQ(named.argument, "home office");
  EXPECT_EQ(read_request("run 7 a\x01"
                         "b\n",
                         100)
                .argument,
            "a?b");
  EXPECT_EQ(
      read_request("run 7 " + std::string(60, 'x') + "\n", 100).argument.size(),
      40u);
  for (auto line :
       {"run 0\n", "run -1\n", "run 2147483648\n", "run 12x\n", "run  12\n",
        "run \n", "run 0x10\n", "run 12 \n", "run 0 work\n", "run x work\n"}) {
    auto bad = read_request(line, 100);
    EXPECT_EQ(bad.result, state::refused) << line;
    EXPECT_EQ(bad.kind, command_kind::run) << line;
    EXPECT_EQ(bad.error, "error\nrun: name the process by its number\n");
  }
  EXPECT_EQ(read_request("run\n", 100).kind, command_kind::unknown);
}

// `check [NAME]`: every proxy, or the one named (printable, cut at 40).
TEST(control_protocol, check_takes_an_optional_proxy_name) {
  auto all = read_request("check\n", 100);
  EXPECT_EQ(all.result, state::complete);
  EXPECT_EQ(all.kind, command_kind::check);
  EXPECT_EQ(all.argument, "");
  auto one = read_request("check work vpn\n", 100);
  EXPECT_EQ(one.kind, command_kind::check);
  EXPECT_EQ(one.argument, "work vpn");
  auto odd = read_request("check \x01" + std::string(60, 'x') + "\n", 100);
  EXPECT_EQ(odd.argument, "?" + std::string(39, 'x'));
  EXPECT_FALSE(changes_things(command_kind::check))
      << "looking at the proxies changes nothing";
  EXPECT_EQ(read_request("checks\n", 100).kind, command_kind::unknown);
}

TEST(control_protocol, a_heartbeat_line_is_known_in_both_forms) {
  EXPECT_TRUE(is_follow_heartbeat("heartbeat"));
  EXPECT_TRUE(is_follow_heartbeat(R"({"type":"heartbeat"})"));
  EXPECT_TRUE(is_follow_heartbeat("heartbeat\r"));
  EXPECT_FALSE(is_follow_heartbeat(""));
  EXPECT_FALSE(is_follow_heartbeat("heartbeats"));
  EXPECT_FALSE(is_follow_heartbeat(R"({"type":"event","text":"heartbeat"})"));
}
