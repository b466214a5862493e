#include "actors/platform/linux/target_marker.hpp"

#include "actors/platform/linux/attached_programs.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstring>
#include <set>
#include <type_traits>

// Generated from bpf/target_marker.bpf.c at build time (bpftool gen
// skeleton): the object file embedded, and its programs, maps and
// read-only data as typed fields.
#include "target_marker.skel.h"

namespace drover::platform::linux_port {

namespace {

bpf_program* program_of(drover_bpf* skel, size_t i) {
  bpf_program* all[] = {skel->progs.drover_mark, skel->progs.drover_fence,
                        skel->progs.drover_refuse6, skel->progs.drover_send6};
  return all[i];
}
constexpr size_t name_length = 64;      // DROVER_NAME_LEN in the program
constexpr uint32_t wildcard_slots = 32; // DROVER_WILDCARDS
constexpr uint32_t settings_count = 10; // SETTINGS
enum setting : uint32_t {
  children,
  proxy,
  block,
  wildcards,
  files,
  folders,
  direct_when_down,
  proxy_bit0,
  proxy_bit1,
  proxy_bit2
};
constexpr uint32_t proxy_down_key = 1 + 2 * settings_count; // PROXY_DOWN

// The program's map keys and values, byte for byte.
struct name_key {
  uint32_t generation;
  std::array<char, name_length> name;
};
struct wildcard_value {
  std::array<char, name_length> pattern;
  uint32_t length;
  uint32_t rules;
};
struct file_key {
  uint64_t generation;
  uint64_t device;
  uint64_t inode;
};

using rodata = std::remove_pointer_t<decltype(drover_bpf::rodata)>;

// libbpf's last complaint, for the error a user sees.
thread_local std::string libbpf_said;

int keep_libbpf_warnings(libbpf_print_level level, const char* format,
                         va_list args) {
  if (level == LIBBPF_DEBUG)
    return 0;
  char line[512];
  int n = std::vsnprintf(line, sizeof line, format, args);
  if (n > 0) {
    libbpf_said = line;
    while (!libbpf_said.empty() && libbpf_said.back() == '\n')
      libbpf_said.pop_back();
  }
  return 0;
}

std::string errno_text() {
  return std::strerror(errno);
}

uint32_t program_id(int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  return bpf_obj_get_info_by_fd(prog_fd, &info, &len) == 0 ? info.id : 0;
}

bool attached_at(int cgroup_fd, bpf_attach_type type, uint32_t id) {
  uint32_t ids[64] = {};
  uint32_t count = 64;
  uint32_t flags = 0;
  if (bpf_prog_query(cgroup_fd, type, 0, &flags, ids, &count) != 0)
    return false;
  return std::find(ids, ids + count, id) != ids + count;
}

// Makes `map` hold exactly `keys` (value `value_of(key)`): new keys first,
// then the old ones removed, so no moment has neither.
template<class Key, class Value, class ValueOf>
bool replace_keys(int map, const std::vector<Key>& keys, ValueOf value_of,
                  std::string& error) {
  // Added before the stale ones go, so nothing wanted is missing meanwhile;
  // a key that finds the map full of stale ones is added after they went.
  std::vector<const Key*> left;
  for (auto& k : keys) {
    Value v = value_of(k);
    if (bpf_map_update_elem(map, &k, &v, BPF_ANY) == 0)
      continue;
    if (errno != ENOSPC && errno != E2BIG) {
      error = "cannot update the kernel's target list: " + errno_text();
      return false;
    }
    left.push_back(&k);
  }
  std::vector<Key> stale;
  Key cur{};
  Key next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(map, prev, &next) == 0) {
    bool wanted = std::any_of(keys.begin(), keys.end(), [&](const Key& k) {
      return std::memcmp(&k, &next, sizeof k) == 0;
    });
    if (!wanted)
      stale.push_back(next);
    cur = next;
    prev = &cur;
  }
  for (auto& k : stale)
    bpf_map_delete_elem(map, &k);
  for (auto* k : left) {
    Value v = value_of(*k);
    if (bpf_map_update_elem(map, k, &v, BPF_ANY) != 0) {
      error = "cannot update the kernel's target list: " + errno_text();
      return false;
    }
  }
  return true;
}

} // namespace

struct target_marker::loaded {
  drover_bpf* skel = nullptr;
  fd_guard cgroup;
  std::array<uint32_t, programs.size()> ids{}; // as the kernel numbers them

  ~loaded() {
    if (skel != nullptr) {
      if (cgroup.fd >= 0)
        for (size_t i = programs.size(); i-- > 0;)
          bpf_prog_detach2(bpf_program__fd(program_of(skel, i)), cgroup.fd,
                           programs[i].type);
      drover_bpf::destroy(skel);
    }
  }

  bool attach(std::string& error) {
    for (size_t i = 0; i < programs.size(); ++i) {
      if (attached_at(cgroup.fd, programs[i].type, ids[i]))
        continue;
      if (bpf_prog_attach(bpf_program__fd(program_of(skel, i)), cgroup.fd,
                          programs[i].type, BPF_F_ALLOW_MULTI)
          != 0) {
        error = "cannot attach Drover's kernel programs to the cgroup "
                "root: "
                + errno_text();
        return false;
      }
    }
    return true;
  }

  bool attached() const {
    for (size_t i = 0; i < programs.size(); ++i)
      if (!attached_at(cgroup.fd, programs[i].type, ids[i]))
        return false;
    return true;
  }
};

std::unique_ptr<target_marker> target_marker::attach(const marker_settings& s,
                                                     std::string& error) {
  libbpf_set_print(keep_libbpf_warnings);
  auto cookie = netns_cookie();
  if (cookie == 0) {
    error = "the kernel does not name network namespaces (SO_NETNS_COOKIE): "
            "Drover needs Linux 5.14 or later";
    return nullptr;
  }
  std::unique_ptr<target_marker> m{new target_marker};
  m->bpf_ = std::make_unique<loaded>();
  auto& b = *m->bpf_;
  b.cgroup.fd
      = ::open(s.cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (b.cgroup.fd < 0) {
    error
        = "cannot open the cgroup root " + s.cgroup_root + ": " + errno_text();
    return nullptr;
  }
  // Engines of other namespaces (or their leftovers, still attached until
  // detached below) fence by mark: never the same.
  std::set<uint32_t> taken;
  for_each_program(b.cgroup.fd,
                   [&](const found_program& p, int, bpf_attach_type) {
                     if (p.cookie != cookie && p.target_mark != 0)
                       taken.insert(p.target_mark & ~7u);
                   });
  m->marks_ = marks_for(cookie, taken);
  b.skel = drover_bpf::open();
  if (b.skel == nullptr) {
    error = "cannot open Drover's kernel programs: " + libbpf_said;
    return nullptr;
  }
  auto* ro = b.skel->rodata;
  ro->netns_cookie = cookie;
  ro->netns_inode = netns_inode();
  ro->target_mark = m->marks_.target;
  ro->pass_mark = m->marks_.pass;
  ro->block_mark = m->marks_.block;
  ro->engine_tgid = static_cast<uint32_t>(::getpid());
  ro->engine_cgroup_id = s.engine_cgroup_id;
  ro->engine_cgroup_level = s.engine_cgroup_level;
  libbpf_said.clear();
  if (drover_bpf::load(b.skel) != 0) {
    error = "the kernel refused Drover's capture programs (eBPF"
            + (libbpf_said.empty() ? std::string{} : ": " + libbpf_said)
            + "); Drover needs Linux 5.17 or later with BTF "
              "(/sys/kernel/btf/vmlinux) and cgroup BPF";
    return nullptr;
  }
  for (size_t i = 0; i < programs.size(); ++i)
    b.ids[i] = program_id(bpf_program__fd(program_of(b.skel, i)));
  if (!b.attach(error))
    return nullptr;
  // Now that ours are in place: what an engine of this namespace left
  // (killed), and leftovers of namespaces that are gone.
  detach_programs(b.cgroup.fd, [&](const found_program& p) {
    if (std::find(b.ids.begin(), b.ids.end(), p.id) != b.ids.end())
      return false;
    m->replaced_ += p.cookie == cookie ? 1 : 0;
    return p.cookie == cookie || !netns_in_use(p.inode);
  });
  return m;
}

target_marker::~target_marker() = default;

bool kernel_rules::operator==(const kernel_rules& o) const {
  return names == o.names && wildcards == o.wildcards && files == o.files
         && folders == o.folders && children == o.children && proxy == o.proxy
         && block == o.block && direct_when_down == o.direct_when_down
         && std::equal(std::begin(proxy_bits), std::end(proxy_bits),
                       std::begin(o.proxy_bits));
}

bool target_marker::set_rules(const kernel_rules& rules, std::string& error) {
  if (rules.wildcards.size() > wildcard_slots) {
    error = "too many wildcard names in the rules (at most "
            + std::to_string(wildcard_slots) + ")";
    return false;
  }
  auto fail = [&](const char* what) {
    error = std::string{"cannot update the kernel's rules ("} + what
            + "): " + errno_text();
    return false;
  };
  auto& maps = bpf_->skel->maps;
  int names = bpf_map__fd(maps.target_names);
  int patterns = bpf_map__fd(maps.wildcards);
  int files = bpf_map__fd(maps.rule_files);
  int folders = bpf_map__fd(maps.rule_folders);
  int settings = bpf_map__fd(maps.settings);
  uint32_t next = generation_ ^ 1u;
  // Whatever a failed update left in the generation not in use goes first.
  auto clear = [&](int map, auto key_type, uint32_t generation) {
    using K = decltype(key_type);
    std::vector<K> stale;
    K cur{};
    K found{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(map, prev, &found) == 0) {
      if (found.generation == generation)
        stale.push_back(found);
      cur = found;
      prev = &cur;
    }
    for (auto& k : stale)
      bpf_map_delete_elem(map, &k);
  };
  clear(names, name_key{}, next);
  clear(files, file_key{}, next);
  clear(folders, file_key{}, next);
  for (auto& [name, bits] : rules.names) {
    if (name.empty() || name.size() >= name_length)
      continue; // cannot be a name the kernel compares in full
    name_key k{};
    k.generation = next;
    std::memcpy(k.name.data(), name.data(), name.size());
    if (bpf_map_update_elem(names, &k, &bits, BPF_ANY) != 0)
      return fail("names");
  }
  uint32_t slot = 0;
  for (auto& [pattern, bits] : rules.wildcards) {
    if (pattern.size() >= name_length)
      continue;
    wildcard_value v{};
    std::memcpy(v.pattern.data(), pattern.data(), pattern.size());
    v.length = static_cast<uint32_t>(pattern.size());
    v.rules = bits;
    uint32_t at = next * wildcard_slots + slot++;
    if (bpf_map_update_elem(patterns, &at, &v, BPF_ANY) != 0)
      return fail("patterns");
  }
  for (auto [map, list] :
       {std::pair{files, &rules.files}, std::pair{folders, &rules.folders}})
    for (auto& [id, bits] : *list) {
      file_key k{next, id.device, id.inode};
      if (bpf_map_update_elem(map, &k, &bits, BPF_ANY) != 0)
        return fail("paths and folders");
    }
  uint32_t values[settings_count] = {};
  values[setting::children] = rules.children;
  values[setting::proxy] = rules.proxy;
  values[setting::block] = rules.block;
  values[setting::wildcards] = slot;
  values[setting::files] = rules.files.empty() ? 0 : 1;
  values[setting::folders] = rules.folders.empty() ? 0 : 1;
  values[setting::direct_when_down] = rules.direct_when_down;
  for (uint32_t b = 0; b < 3; ++b)
    values[setting::proxy_bit0 + b] = rules.proxy_bits[b];
  for (uint32_t i = 0; i < settings_count; ++i) {
    uint32_t at = 1 + next * settings_count + i;
    if (bpf_map_update_elem(settings, &at, &values[i], BPF_ANY) != 0)
      return fail("settings");
  }
  // The switch: one word.
  uint32_t zero = 0;
  if (bpf_map_update_elem(settings, &zero, &next, BPF_ANY) != 0)
    return fail("switch");
  generation_ = next;
  clear(names, name_key{}, next ^ 1u);
  clear(files, file_key{}, next ^ 1u);
  clear(folders, file_key{}, next ^ 1u);
  return true;
}

bool target_marker::set_proxying(uint32_t proxy, bool tcp, bool udp,
                                 std::string& error) {
  if (proxy >= 8)
    return true;
  uint32_t key = proxy_down_key;
  // Bit p: proxy p is down for TCP; bit 8 + p: for UDP (UDP_DOWN_SHIFT).
  uint32_t tcp_bit = 1u << proxy, udp_bit = 1u << (proxy + 8);
  down_ = (down_ & ~(tcp_bit | udp_bit)) | (tcp ? 0u : tcp_bit)
          | (udp ? 0u : udp_bit);
  uint32_t down = down_;
  if (bpf_map_update_elem(bpf_map__fd(bpf_->skel->maps.settings), &key, &down,
                          BPF_ANY)
      != 0) {
    error = "cannot tell the kernel program whether the proxy can be used: "
            + errno_text();
    return false;
  }
  return true;
}

bool target_marker::set_users(const std::vector<uint32_t>& uids,
                              std::string& error) {
  return replace_keys<uint32_t, uint8_t>(
      bpf_map__fd(bpf_->skel->maps.target_uids), uids,
      [](uint32_t) { return uint8_t{1}; }, error);
}

bool target_marker::set_run_group(uint64_t cgroup_id, uint32_t proxy,
                                  std::string& error) {
  if (bpf_map_update_elem(bpf_map__fd(bpf_->skel->maps.run_groups), &cgroup_id,
                          &proxy, BPF_ANY)
      != 0) {
    error = "cannot tell the kernel program about drover run's group for "
            "proxy "
            + std::to_string(proxy) + ": " + errno_text();
    return false;
  }
  return true;
}

// The fence's map of destinations it lets out (skip_v4's max_entries).
constexpr size_t skip_capacity = 512;

bool target_marker::set_skip(const net::capture::exclusions& skip,
                             const std::vector<net::ipv4_address>& broadcasts,
                             std::string& error) {
  struct skip_key {
    uint32_t prefix_length;
    uint32_t address; // network byte order
  };
  std::vector<skip_key> keys;
  auto add = [&](net::ipv4_cidr c) {
    uint32_t a = c.network.value;
    keys.push_back({c.prefix_length, ((a >> 24) & 0xff) | ((a >> 8) & 0xff00)
                                         | ((a << 8) & 0xff0000) | (a << 24)});
  };
  for (auto& c : net::capture::excluded_ranges(skip))
    add(c);
  if (keys.size() > skip_capacity) {
    error = "too many [skip] ranges for the kernel's fence (at most 500)";
    return false;
  }
  // As many of the subnets' broadcasts as fit (a machine with hundreds of
  // networks): the rest stay fenced, dropped rather than let out, and the
  // capture still starts.
  for (size_t i = 0; i < broadcasts.size() && keys.size() < skip_capacity; ++i)
    add({broadcasts[i], 32});
  return replace_keys<skip_key, uint8_t>(
      bpf_map__fd(bpf_->skel->maps.skip_v4), keys,
      [](const skip_key&) { return uint8_t{1}; }, error);
}

bool target_marker::attached() const {
  return bpf_->attached();
}

bool target_marker::reattach(std::string& error) {
  return bpf_->attach(error);
}

marker_counters target_marker::counters() const {
  marker_counters out;
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0)
    return out;
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  int map = bpf_map__fd(bpf_->skel->maps.counters);
  for (uint32_t key : {0u, 1u, 2u}) {
    if (bpf_map_lookup_elem(map, &key, per_cpu.data()) != 0)
      continue;
    uint64_t sum = 0;
    for (auto v : per_cpu)
      sum += v;
    (key == 0   ? out.sockets_marked
     : key == 1 ? out.packets_fenced
                : out.ipv6_refused)
        = sum;
  }
  return out;
}

} // namespace drover::platform::linux_port
