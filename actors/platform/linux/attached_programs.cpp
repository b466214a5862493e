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

namespace {

// Detaches the programs of namespaces that are gone, and with `own_too`
// this namespace's.
int detach_left(const std::string& cgroup_root, bool own_too) {
  fd_guard cgroup{
      ::open(cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (cgroup.fd < 0)
    return 0;
  auto live = live_netns_inodes();
  auto own = netns_inode();
  return detach_programs(cgroup.fd, [&](const found_program& p) {
    return (own_too && p.inode == own) || live.count(p.inode) == 0;
  });
}

} // namespace

int detach_orphaned_programs(const std::string& cgroup_root) {
  return detach_left(cgroup_root, false);
}

int detach_programs_left(const std::string& cgroup_root) {
  return detach_left(cgroup_root, true);
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
  if (cgroup.fd >= 0)
    for_each_program(
        cgroup.fd, [&](const found_program& p, int, bpf_attach_type) {
          runs = runs || (p.inode == netns_inode() && is_engine(p.engine));
        });
  return runs;
}

} // namespace drover::platform::linux_port
