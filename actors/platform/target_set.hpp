#pragma once

// Which processes are targets, as the Windows capture keeps it: shared by
// the capture session (procscan adds and forgets processes) and WinDivert's
// receive thread (which reads a copy only when it changed, and adds a
// process itself the moment it opens its first socket, by its executable's
// name). Plain C++ (a mutex, a generation counter), so it is unit-tested on
// any system.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace drover::platform {

class target_set {
public:
  void add(uint32_t pid);
  void remove(uint32_t pid);
  bool contains(uint32_t pid) const;
  void set_names(std::vector<std::string> names);
  /// `image` (an executable's file name) is a target's, case-insensitively
  /// (Windows' rule for file names, ASCII letters).
  bool name_matches(const std::string& image) const;
  uint64_t generation() const { return generation_.load(); }
  /// Copies the set (sorted) when it changed since `seen`.
  void refresh(std::vector<uint32_t>& copy, uint64_t& seen) const;

private:
  mutable std::mutex mutex_;
  std::vector<uint32_t> pids_; // sorted
  std::vector<std::string> names_;
  std::atomic<uint64_t> generation_{0};
};

} // namespace drover::platform
