// The /proc parsers behind the flow list's process names, and the lookup
// itself on a real socket.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "actors/platform/linux/procfs.hpp"
#include "actors/platform/process.hpp"

using namespace drover::platform::linux_port;

namespace {

// Real /proc/net/tcp text (little-endian x86): 10.210.0.1:40000 (9C40) to
// 10.210.0.3:7, a listener on 0.0.0.0:22, one on 127.0.0.1:631 (0277).
constexpr const char* tcp_table
    = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
      "retrnsmt   uid  timeout inode\n"
      "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 "
      "00000000     0        0 1111 1 0000000000000000 100 0 0 10 0\n"
      "   1: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 "
      "00000000     0        0 2222 1 0000000000000000 100 0 0 10 0\n"
      "   2: 0100D20A:9C40 0300D20A:0007 01 00000000:00000000 00:00000000 "
      "00000000  1000        0 3333 1 0000000000000000 20 4 30 10 -1\n"
      "   3: garbage line\n";

} // namespace

TEST(procfs, socket_inodes_by_port_keeps_this_address_and_the_wildcard) {
  auto inodes = socket_inodes_by_port(tcp_table, 0x0AD20001); // 10.210.0.1
  EXPECT_EQ(inodes.size(), 2u);
  EXPECT_EQ(inodes[40000], 3333u);
  EXPECT_EQ(inodes[22], 1111u);
  EXPECT_EQ(inodes.count(631), 0u); // bound to 127.0.0.1 only
  auto loopback = socket_inodes_by_port(tcp_table, 0x7F000001);
  EXPECT_EQ(loopback[631], 2222u);
}

TEST(procfs, an_ipv6_table_gives_nothing) {
  EXPECT_TRUE(socket_inodes_by_port(
                  "header\n   0: 00000000000000000000000001000000:0277 "
                  "00000000000000000000000000000000:0000 0A 00000000:00000000 "
                  "00:00000000 00000000     0        0 99 1\n",
                  0)
                  .empty());
}

TEST(procfs, socket_inode_of_link) {
  EXPECT_EQ(socket_inode_of_link("socket:[12345]"), 12345u);
  EXPECT_EQ(socket_inode_of_link("pipe:[12345]"), 0u);
  EXPECT_EQ(socket_inode_of_link("socket:[12a]"), 0u);
  EXPECT_EQ(socket_inode_of_link("/dev/null"), 0u);
  EXPECT_EQ(socket_inode_of_link("socket:["), 0u);
}

// The real lookup: this test's own connected socket is found as its own.
TEST(socket_owners, finds_this_process_behind_its_socket) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);
  int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  sockaddr_in mine{};
  len = sizeof mine;
  ASSERT_EQ(::getsockname(client, reinterpret_cast<sockaddr*>(&mine), &len), 0);
  auto port = ntohs(mine.sin_port);
  auto owners = drover::platform::socket_owners(6, INADDR_LOOPBACK, {port, 1});
  ASSERT_EQ(owners.count(port), 1u);
  EXPECT_EQ(owners[port].pid, static_cast<uint32_t>(::getpid()));
  EXPECT_EQ(owners[port].name, "platform_test");
  EXPECT_EQ(owners.count(1), 0u); // nobody's port
  ::close(client);
  ::close(listener);
}

TEST(procfs, file_of_fdinfo) {
  auto f = file_of_fdinfo("pos:\t0\nflags:\t02000002\nmnt_id:\t10\nino:\t"
                          "3550733\n");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->mount_id, 10u);
  EXPECT_EQ(f->inode, 3550733u);
  EXPECT_FALSE(file_of_fdinfo("pos:\t0\nmnt_id:\t10\n")) << "an old kernel";
  EXPECT_FALSE(file_of_fdinfo("mnt_id:\t1x\nino:\t5\n"));
  EXPECT_FALSE(file_of_fdinfo(""));
  EXPECT_FALSE(file_of_fdinfo("ino:\t99999999999999999999999\nmnt_id:\t1\n"));
}

// /proc/net/netfilter/nfnetlink_queue as Linux 6.1 writes it: queue 7042
// with 3 waiting, 12 dropped when full, 5 the reader's socket overran.
TEST(procfs, nfqueue_stats_of_reads_one_queue) {
  constexpr const char* table
      = "    0 4242    0 2 65531     0     0        0  1\n"
        " 7042 1234     3 2 65531    12     5   123456  1\n";
  auto s = nfqueue_stats_of(table, 7042);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->waiting, 3u);
  EXPECT_EQ(s->queue_dropped, 12u);
  EXPECT_EQ(s->user_dropped, 5u);
  EXPECT_FALSE(nfqueue_stats_of(table, 7043)) << "not bound";
  EXPECT_FALSE(nfqueue_stats_of("", 0));
  EXPECT_FALSE(nfqueue_stats_of(" 7042 garbage\n", 7042)) << "short line";
}

// Who asks `drover run` to put a process in place: its parent and its real
// user, as /proc/PID/status says (the real user is the first of four).
TEST(procfs, process_ids_of_status) {
  auto ids = process_ids_of("Name:\tpeer\nUmask:\t0022\nState:\tS (sleeping)\n"
                            "Tgid:\t4242\nNgid:\t0\nPid:\t4242\nPPid:\t4100\n"
                            "TracerPid:\t0\nUid:\t1000\t0\t0\t0\n"
                            "Gid:\t1000\t1000\t1000\t1000\n");
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->parent, 4100u);
  EXPECT_EQ(ids->user, 1000u) << "the real user, not the effective one";
  EXPECT_FALSE(process_ids_of("Name:\tx\nPPid:\t1\n")) << "no Uid";
  EXPECT_FALSE(process_ids_of("PPid:\tx\nUid:\t0\t0\t0\t0\n"));
  EXPECT_FALSE(process_ids_of(""));
}

// A process's name and parent from its stat line; the name, which its
// program chooses, may hold spaces and brackets, so it ends at the last ')'.
TEST(procfs, parse_stat_line_takes_the_name_to_the_last_bracket) {
  auto f = parse_stat_line("4242 (Discord) S 4100 4242 4100 0 -1 4194560\n");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->command, "Discord");
  EXPECT_EQ(f->parent, 4100u);
  f = parse_stat_line("7 (a) b (c)) R 1 7 7 0");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->command, "a) b (c)");
  EXPECT_EQ(f->parent, 1u);
  f = parse_stat_line("9 () S 0 0");
  ASSERT_TRUE(f) << "an empty name";
  EXPECT_EQ(f->command, "");
  EXPECT_EQ(f->parent, 0u);
  EXPECT_FALSE(parse_stat_line("")) << "nothing";
  EXPECT_FALSE(parse_stat_line("4242 (Discord S 4100")) << "no end to the name";
  EXPECT_FALSE(parse_stat_line("4242 (Discord) S")) << "no parent";
  EXPECT_FALSE(parse_stat_line("4242 (Discord) S x")) << "not a number";
  EXPECT_FALSE(parse_stat_line("4242 (Discord)S 4100")) << "not the format";
  EXPECT_FALSE(parse_stat_line("1 (x) S 99999999999 0")) << "too large";
}

// When the process started: the 22nd field, after a name with spaces and
// brackets too; unknown (0) on a line that stops before it.
TEST(procfs, parse_stat_line_takes_the_start_time) {
  auto f = parse_stat_line(
      "4242 (a) b (c)) S 4100 4242 4100 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 "
      "1 0 987654 1234567 89");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->parent, 4100u);
  EXPECT_EQ(f->started, 987654u);
  f = parse_stat_line("4242 (Discord) S 4100 4242 4100 0 -1 4194560\n");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->started, 0u);
  f = parse_stat_line("1 (x) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
                      "99999999999999999999999");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->started, 0u) << "too large: unknown";
}

// The scan itself: this process, its parent, its executable and the name
// it was started as, as /proc has them.
TEST(procfs, list_processes_sees_this_process_as_it_is) {
  auto all = drover::platform::list_processes();
  ASSERT_TRUE(all);
  char exe[4096];
  auto n = ::readlink("/proc/self/exe", exe, sizeof exe);
  ASSERT_GT(n, 0);
  std::string path{exe, static_cast<size_t>(n)};
  bool found = false;
  for (auto& p : *all) {
    if (p.pid != static_cast<uint32_t>(::getpid()))
      continue;
    found = true;
    EXPECT_EQ(p.parent_pid, static_cast<uint32_t>(::getppid()));
    EXPECT_EQ(p.path, path);
    EXPECT_EQ(p.name, path.substr(path.rfind('/') + 1));
    // comm: the executable's name, cut to 15 bytes.
    EXPECT_EQ(p.command, p.name.substr(0, 15));
    EXPECT_NE(p.created, 0u) << "its start time";
  }
  EXPECT_TRUE(found) << all->size() << " processes, not this one";
  EXPECT_GT(all->size(), 1u) << "at least this one and its parent";
}
