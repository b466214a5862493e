// Which network namespace an engine serves, as the kernel names it, and
// the capture marks that follow from it (actors/platform/linux/
// netns_identity.hpp).
#include "actors/platform/linux/netns_identity.hpp"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#ifndef SO_NETNS_COOKIE
#  define SO_NETNS_COOKIE 71
#endif

namespace drover::platform::linux_port {

uint64_t netns_inode() {
  struct stat st {};
  return ::stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

// Asked at the moment of deciding, never from an earlier list: a
// namespace made after such a list (another engine starting meanwhile)
// would look dead, and its running engine's programs or cgroup view would
// be taken away from it.
bool netns_in_use(uint64_t inode) {
  if (inode == 0)
    return false;
  auto found_in = [&](const char* dir, bool processes) {
    DIR* d = ::opendir(dir);
    if (d == nullptr)
      return false;
    bool found = false;
    while (auto* e = ::readdir(d)) {
      if (e->d_name[0] == '.')
        continue;
      if (processes && (e->d_name[0] < '0' || e->d_name[0] > '9'))
        continue;
      std::string path
          = std::string{dir} + "/" + e->d_name + (processes ? "/ns/net" : "");
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0 && st.st_ino == inode) {
        found = true;
        break;
      }
    }
    ::closedir(d);
    return found;
  };
  return found_in("/run/netns", false) || found_in("/proc", true);
}

uint64_t netns_cookie() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return 0;
  uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  if (::getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
    cookie = 0;
  ::close(s);
  return cookie;
}

capture_marks marks_for(uint64_t cookie, const std::set<uint32_t>& taken) {
  // The low 3 bits of the target mark are the proxy's index (0..7); the
  // 13 above them the namespace's. The kernel numbers namespaces one after
  // the other (in batches per CPU), so the cookie's own low bits keep
  // namespaces made near each other apart (folding the high bits in, as
  // before, let eight neighbours share marks, and one engine's fence drop
  // what another's let out); a value another engine's programs use is
  // passed over.
  auto folded = static_cast<uint32_t>(cookie & 0x1fff) << 3;
  for (int tries = 0; tries < 0x2000; ++tries) {
    if (folded != 0 && taken.count(0x44530000u | folded) == 0)
      break;
    folded = (folded + 8) & 0xfff8;
  }
  return {0x44530000u | folded, 0x44540000u | folded, 0x44420000u | folded};
}

} // namespace drover::platform::linux_port
