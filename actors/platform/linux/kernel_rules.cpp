#include "actors/platform/linux/kernel_rules.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace drover::platform::linux_port {

namespace {

bool ends_with_exe(const std::string& s) {
  return s.size() > 4 && s.compare(s.size() - 4, 4, ".exe") == 0;
}

template<class Key>
void add(std::vector<std::pair<Key, uint32_t>>& list, const Key& key,
         uint32_t bit) {
  for (auto& [k, bits] : list)
    if (k == key) {
      bits |= bit;
      return;
    }
  list.emplace_back(key, bit);
}

// The kernel's device number (MKDEV: major << 20 | minor) of the file
// system mount `mount_id` shows, from /proc/self/mountinfo: the
// superblock's, which is what the program reads (a btrfs subvolume's
// stat() says another).
std::optional<uint64_t> mount_device(uint64_t mount_id) {
  std::ifstream in{"/proc/self/mountinfo"};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields{line};
    uint64_t id = 0;
    uint64_t parent = 0;
    std::string numbers;
    if (!(fields >> id >> parent >> numbers) || id != mount_id)
      continue;
    auto colon = numbers.find(':');
    if (colon == std::string::npos)
      return std::nullopt;
    uint64_t major = std::stoull(numbers.substr(0, colon));
    uint64_t minor = std::stoull(numbers.substr(colon + 1));
    return (major << 20) | minor;
  }
  return std::nullopt;
}

} // namespace

std::optional<file_identity> identify_file(const std::string& path) {
  struct statx st {};
  if (::statx(AT_FDCWD, path.c_str(), 0, STATX_INO | STATX_MNT_ID, &st) != 0)
    return std::nullopt;
  file_identity id;
  id.inode = st.stx_ino;
  std::optional<uint64_t> device;
  if ((st.stx_mask & STATX_MNT_ID) != 0) {
    device = mount_device(st.stx_mnt_id);
  }
  id.device = device ? *device
                     : (uint64_t{st.stx_dev_major} << 20) | st.stx_dev_minor;
  return id;
}

kernel_rules compile_rules(const std::vector<config::app_rule>& rules,
                           config::not_proxying fallback,
                           const std::vector<std::string>& proxy_names,
                           std::vector<std::string>& missing) {
  config::target_settings defaults;
  defaults.when_not_proxying = fallback;
  kernel_rules out;
  for (size_t i = 0; i < rules.size() && i < config::max_rules; ++i) {
    auto& rule = rules[i];
    uint32_t bit = 1u << i;
    for (auto& app : rule.apps) {
      // "Discord.exe" also finds Linux's "Discord".
      std::vector<std::string> forms{app};
      if (ends_with_exe(app))
        forms.push_back(app.substr(0, app.size() - 4));
      for (auto& form : forms) {
        if (form.find_first_of("*?") != std::string::npos)
          add(out.wildcards, form, bit);
        else
          add(out.names, form, bit);
      }
    }
    for (auto [paths, list] : {std::pair{&rule.paths, &out.files},
                               std::pair{&rule.folders, &out.folders}})
      for (auto& path : *paths) {
        if (auto id = identify_file(path))
          add(*list, *id, bit);
        else
          missing.push_back(path);
      }
    if (rule.children)
      out.children |= bit;
    if (rule.action == config::rule_action::proxy) {
      out.proxy |= bit;
      auto proxy = config::proxy_index(proxy_names, rule);
      for (uint32_t b = 0; b < 3; ++b)
        if (proxy & (1u << b))
          out.proxy_bits[b] |= bit;
      if (config::fallback_of(rule, defaults) == config::not_proxying::direct)
        out.direct_when_down |= bit;
    } else if (rule.action == config::rule_action::block)
      out.block |= bit;
  }
  return out;
}

} // namespace drover::platform::linux_port
