#include "actors/platform/linux/attached_programs.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <type_traits>
#include <vector>

#include "actors/platform/linux/netns_identity.hpp"

// For the layout of the programs' read-only data only (bpftool gen
// skeleton; see target_marker.cpp).
#include "target_marker.skel.h"

namespace drover::platform::linux_port {

namespace {

using rodata = std::remove_pointer_t<decltype(drover_bpf::rodata)>;

bool ours(const std::string& name) {
  return std::any_of(programs.begin(), programs.end(),
                     [&](const program_slot& p) { return name == p.name; });
}

// Reads a program's name and its read-only data (the namespace it serves).
bool describe_program(int prog_fd, found_program& out) {
  uint32_t map_ids[8] = {};
  bpf_prog_info info{};
  info.nr_map_ids = 8;
  info.map_ids = reinterpret_cast<uintptr_t>(map_ids);
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
    return false;
  out.id = info.id;
  out.name = info.name;
  if (!ours(out.name))
    return true; // someone else's: never touched
  for (uint32_t i = 0; i < std::min<uint32_t>(info.nr_map_ids, 8); ++i) {
    fd_guard map{bpf_map_get_fd_by_id(map_ids[i])};
    if (map.fd < 0)
      continue;
    bpf_map_info minfo{};
    uint32_t mlen = sizeof minfo;
    if (bpf_obj_get_info_by_fd(map.fd, &minfo, &mlen) != 0)
      continue;
    std::string_view name{minfo.name};
    // (The map's value has no tail padding; the struct here may.)
    constexpr auto needed = offsetof(rodata, netns_inode) + sizeof(uint64_t);
    if (name.size() < 7 || name.substr(name.size() - 7) != ".rodata"
        || minfo.value_size < needed)
      continue;
    std::vector<uint8_t> value(minfo.value_size);
    uint32_t key = 0;
    if (bpf_map_lookup_elem(map.fd, &key, value.data()) != 0)
      continue;
    std::memcpy(&out.cookie, value.data() + offsetof(rodata, netns_cookie),
                sizeof out.cookie);
    std::memcpy(&out.inode, value.data() + offsetof(rodata, netns_inode),
                sizeof out.inode);
    if (minfo.value_size >= offsetof(rodata, target_mark) + sizeof(uint32_t))
      std::memcpy(&out.target_mark,
                  value.data() + offsetof(rodata, target_mark),
                  sizeof out.target_mark);
    if (minfo.value_size >= offsetof(rodata, engine_tgid) + sizeof(uint32_t))
      std::memcpy(&out.engine, value.data() + offsetof(rodata, engine_tgid),
                  sizeof out.engine);
  }
  return true;
}

// This network namespace, read once for all the programs looked at. Told
// by its cookie, which the kernel never gives again while it runs; an
// inode is given again to a namespace made after one is gone.
struct this_namespace {
  uint64_t cookie = netns_cookie();
  uint64_t inode = netns_inode();
  bool serves(const found_program& p) const {
    return cookie != 0 ? p.cookie == cookie : p.inode == inode;
  }
};

} // namespace

void for_each_program(
    int cgroup_fd,
    const std::function<void(const found_program&, int, bpf_attach_type)>& f) {
  for (auto& slot : programs) {
    auto type = slot.type;
    uint32_t ids[64] = {};
    uint32_t count = 64;
    uint32_t flags = 0;
    if (bpf_prog_query(cgroup_fd, type, 0, &flags, ids, &count) != 0)
      continue;
    for (uint32_t i = 0; i < count; ++i) {
      fd_guard prog{bpf_prog_get_fd_by_id(ids[i])};
      found_program p;
      if (prog.fd < 0 || !describe_program(prog.fd, p) || !ours(p.name))
        continue;
      f(p, prog.fd, type);
    }
  }
}

int detach_programs(int cgroup_fd,
                    const std::function<bool(const found_program&)>& remove) {
  int removed = 0;
  for_each_program(
      cgroup_fd, [&](const found_program& p, int fd, bpf_attach_type type) {
        if (remove(p) && bpf_prog_detach2(fd, cgroup_fd, type) == 0)
          ++removed;
      });
  return removed;
}

programs_detached detach_programs_left(const std::string& cgroup_root) {
  programs_detached out;
  fd_guard cgroup{
      ::open(cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (cgroup.fd < 0)
    return out;
  this_namespace here;
  for_each_program(cgroup.fd,
                   [&](const found_program& p, int fd, bpf_attach_type type) {
                     bool mine = here.serves(p);
                     if (!mine && netns_in_use(p.inode))
                       return;
                     if (bpf_prog_detach2(fd, cgroup.fd, type) == 0)
                       ++(mine ? out.own : out.orphaned);
                   });
  return out;
}

bool engine_attached_here(const std::string& cgroup_root) {
  fd_guard cgroup{
      ::open(cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  // A program names its engine's process: one that still runs Drover (not
  // a dead engine's ID taken by another program, nor this one).
  auto is_engine = [](uint32_t pid) {
    std::error_code ec;
    auto exe = std::filesystem::read_symlink(
        "/proc/" + std::to_string(pid) + "/exe", ec);
    return pid != 0 && pid != static_cast<uint32_t>(::getpid()) && !ec
           && exe.filename().string().rfind("drover", 0) == 0;
  };
  bool runs = false;
  this_namespace here;
  if (cgroup.fd >= 0)
    for_each_program(cgroup.fd,
                     [&](const found_program& p, int, bpf_attach_type) {
                       runs = runs || (here.serves(p) && is_engine(p.engine));
                     });
  return runs;
}

} // namespace drover::platform::linux_port
