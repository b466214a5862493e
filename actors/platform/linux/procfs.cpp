#include "actors/platform/linux/procfs.hpp"

#include <algorithm>
#include <sstream>

namespace drover::platform::linux_port {

namespace {

bool is_octal(char c) {
  return c >= '0' && c <= '7';
}

// mountinfo writes a space as \040 (and tab, newline, backslash likewise).
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && is_octal(s[i + 1])
        && is_octal(s[i + 2]) && is_octal(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8
                               + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

} // namespace

std::optional<cgroup2_mount> find_cgroup2(std::string_view mountinfo) {
  std::istringstream in{std::string{mountinfo}};
  for (std::string line; std::getline(in, line);) {
    // id parent major:minor root mount-point options [optional...] - type ...
    auto dash = line.find(" - ");
    if (dash == std::string::npos)
      continue;
    std::istringstream tail{line.substr(dash + 3)};
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2")
      continue;
    std::istringstream head{line.substr(0, dash)};
    std::string id, parent, dev, root, mount_point;
    if (!(head >> id >> parent >> dev >> root >> mount_point))
      continue;
    return cgroup2_mount{unescape(mount_point), unescape(root)};
  }
  return std::nullopt;
}

std::optional<std::string> unified_cgroup_path(std::string_view cgroup_file) {
  std::istringstream in{std::string{cgroup_file}};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("0::", 0) == 0)
      return line.substr(3);
  return std::nullopt;
}

std::optional<uint64_t> effective_capabilities(std::string_view status) {
  std::istringstream in{std::string{status}};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("CapEff:", 0) != 0)
      continue;
    try {
      return std::stoull(line.substr(7), nullptr, 16);
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<process_ids> process_ids_of(std::string_view status) {
  std::optional<uint32_t> parent, user;
  std::istringstream in{std::string{status}};
  auto number = [](const std::string& text) -> std::optional<uint32_t> {
    std::istringstream words{text};
    unsigned long long v = 0;
    if (!(words >> v) || v > 0xffffffffULL)
      return std::nullopt;
    return static_cast<uint32_t>(v);
  };
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("PPid:", 0) == 0)
      parent = number(line.substr(5));
    else if (line.rfind("Uid:", 0) == 0)
      user = number(line.substr(4)); // real, effective, saved, fs: the first
  }
  if (!parent || !user)
    return std::nullopt;
  return process_ids{*parent, *user};
}

std::optional<stat_fields> parse_stat_line(std::string_view line) {
  auto open = line.find('(');
  auto close = line.rfind(')');
  // ") S PPID": the state, one character, then the parent.
  if (open == std::string_view::npos || close == std::string_view::npos
      || close < open || close + 4 >= line.size() || line[close + 1] != ' '
      || line[close + 3] != ' ')
    return std::nullopt;
  stat_fields out;
  out.command = std::string{line.substr(open + 1, close - open - 1)};
  uint64_t parent = 0;
  size_t digits = 0;
  for (auto i = close + 4; i < line.size() && line[i] >= '0' && line[i] <= '9';
       ++i, ++digits) {
    parent = parent * 10 + static_cast<uint64_t>(line[i] - '0');
    if (parent > 0xffffffffULL)
      return std::nullopt;
  }
  if (digits == 0)
    return std::nullopt;
  out.parent = static_cast<uint32_t>(parent);
  // The start time: the 20th field after the name (the state is the 1st).
  size_t at = close + 2;
  for (int field = 1; field < 20 && at < line.size(); ++field) {
    at = line.find(' ', at);
    at = at == std::string_view::npos ? line.size() : at + 1;
  }
  uint64_t started = 0;
  for (; at < line.size() && line[at] >= '0' && line[at] <= '9'; ++at) {
    if (started > (UINT64_MAX - 9) / 10)
      return out; // not a start time: unknown
    started = started * 10 + static_cast<uint64_t>(line[at] - '0');
  }
  out.started = started;
  return out;
}

std::map<uint16_t, uint64_t> socket_inodes_by_port(std::string_view table,
                                                   uint32_t local_ip) {
  std::map<uint16_t, uint64_t> out;
  std::istringstream in{std::string{table}};
  std::string line;
  std::getline(in, line); // the header
  while (std::getline(in, line)) {
    std::istringstream fields{line};
    std::string slot, local, remote, st, queues, timer, retransmits, uid,
        timeout;
    uint64_t inode = 0;
    if (!(fields >> slot >> local >> remote >> st >> queues >> timer
          >> retransmits >> uid >> timeout >> inode))
      continue;
    auto colon = local.find(':');
    if (colon != 8 || local.size() != 13)
      continue; // an IPv6 table, or not this format
    uint32_t raw = 0;
    unsigned port = 0;
    try {
      raw = static_cast<uint32_t>(std::stoul(local.substr(0, 8), nullptr, 16));
      port = static_cast<unsigned>(std::stoul(local.substr(9), nullptr, 16));
    } catch (...) {
      continue;
    }
    // The kernel prints the address as the 32-bit word it stores, in
    // network byte order, so the text's bytes are swapped on little-endian
    // machines.
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t ip = __builtin_bswap32(raw);
#else
    uint32_t ip = raw;
#endif
    if ((ip != local_ip && ip != 0) || inode == 0 || port > 0xFFFF)
      continue;
    out[static_cast<uint16_t>(port)] = inode;
  }
  return out;
}

std::optional<nfqueue_stats> nfqueue_stats_of(std::string_view table,
                                              uint16_t queue) {
  // "%5u %6u %5u %1u %5u %5u %5u %8u %2d": queue number, the reader's port
  // ID, waiting, copy mode, copy range, queue dropped, user dropped, the
  // last packet ID, 1 (net/netfilter/nfnetlink_queue.c, seq_show).
  while (!table.empty()) {
    auto end = table.find('\n');
    auto line = table.substr(0, end);
    table = end == std::string_view::npos ? std::string_view{}
                                          : table.substr(end + 1);
    uint64_t field[7] = {};
    size_t n = 0;
    size_t at = 0;
    while (n < 7) {
      while (at < line.size() && line[at] == ' ')
        ++at;
      if (at == line.size() || line[at] < '0' || line[at] > '9')
        break;
      uint64_t v = 0;
      for (; at < line.size() && line[at] >= '0' && line[at] <= '9'; ++at)
        v = v * 10 + static_cast<uint64_t>(line[at] - '0');
      field[n++] = v;
    }
    if (n == 7 && field[0] == queue)
      return nfqueue_stats{field[2], field[5], field[6]};
  }
  return std::nullopt;
}

uint64_t socket_inode_of_link(std::string_view link) {
  constexpr std::string_view prefix = "socket:[";
  if (link.substr(0, prefix.size()) != prefix || link.back() != ']')
    return 0;
  uint64_t inode = 0;
  for (char c : link.substr(prefix.size(), link.size() - prefix.size() - 1)) {
    if (c < '0' || c > '9')
      return 0;
    inode = inode * 10 + static_cast<uint64_t>(c - '0');
  }
  return inode;
}

std::optional<fdinfo_file> file_of_fdinfo(std::string_view fdinfo) {
  std::optional<uint64_t> mount, inode;
  while (!fdinfo.empty()) {
    auto nl = fdinfo.find('\n');
    auto line = fdinfo.substr(0, nl);
    fdinfo.remove_prefix(nl == std::string_view::npos ? fdinfo.size() : nl + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    auto key = line.substr(0, colon);
    if (key != "mnt_id" && key != "ino")
      continue;
    auto value = line.substr(colon + 1);
    value.remove_prefix(std::min(value.find_first_not_of(" \t"), value.size()));
    if (value.empty() || value.size() > 19)
      continue;
    uint64_t n = 0;
    bool digits = true;
    for (char c : value) {
      digits = digits && c >= '0' && c <= '9';
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (!digits)
      continue;
    (key == "ino" ? inode : mount) = n;
  }
  if (!mount || !inode)
    return std::nullopt;
  return fdinfo_file{*mount, *inode};
}

} // namespace drover::platform::linux_port
