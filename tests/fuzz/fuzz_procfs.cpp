// What the engine reads from /proc about other processes: a stat line's
// name, a status file, a cgroup path are theirs to choose (a program names
// itself; a delegated cgroup names its own children). Every reader survives
// any text, and a stat line keeps whatever name a program chose apart from
// the fields after it (its parent, its start time).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "actors/platform/linux/procfs.hpp"

using namespace drover::platform::linux_port;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size copy, so AddressSanitizer sees any read past the end.
  std::vector<char> buf(data, data + size);
  std::string_view text{buf.data(), buf.size()};
  (void)find_cgroup2(text);
  (void)unified_cgroup_path(text);
  (void)effective_capabilities(text);
  (void)process_ids_of(text);
  (void)socket_inodes_by_port(text, 0x7f000001);
  (void)socket_inode_of_link(text);
  (void)file_of_fdinfo(text);
  (void)nfqueue_stats_of(text, 17490);
  if (auto f = parse_stat_line(text); f && f->command.size() > size)
    std::abort();
  // Any name (comm is at most 15 bytes, a thread's name likewise, but the
  // parser must not depend on it) in a stat line the kernel would write.
  std::string name(text.substr(0, 64));
  std::string line = "4242 (" + name
                     + ") S 4100 4242 4100 0 -1 4194560 120 0 0 0 3 1 0 0 20 "
                       "0 1 0 987654 1234567 89 18446744073709551615\n";
  auto f = parse_stat_line(line);
  if (!f || f->command != name || f->parent != 4100 || f->started != 987654)
    std::abort();
  return 0;
}
