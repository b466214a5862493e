#include "actors/platform/target_set.hpp"

#include <algorithm>
#include <cctype>

namespace drover::platform {

void target_set::add(uint32_t pid) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = std::lower_bound(pids_.begin(), pids_.end(), pid);
  if (it != pids_.end() && *it == pid)
    return;
  pids_.insert(it, pid);
  generation_++;
}

void target_set::remove(uint32_t pid) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = std::lower_bound(pids_.begin(), pids_.end(), pid);
  if (it == pids_.end() || *it != pid)
    return;
  pids_.erase(it);
  generation_++;
}

bool target_set::contains(uint32_t pid) const {
  std::lock_guard<std::mutex> guard{mutex_};
  return std::binary_search(pids_.begin(), pids_.end(), pid);
}

void target_set::set_names(std::vector<std::string> names) {
  std::lock_guard<std::mutex> guard{mutex_};
  names_ = std::move(names);
}

bool target_set::name_matches(const std::string& image) const {
  auto same = [&](const std::string& name) {
    return name.size() == image.size()
           && std::equal(
               name.begin(), name.end(), image.begin(), [](char a, char b) {
                 return std::tolower(static_cast<unsigned char>(a))
                        == std::tolower(static_cast<unsigned char>(b));
               });
  };
  std::lock_guard<std::mutex> guard{mutex_};
  return std::any_of(names_.begin(), names_.end(), same);
}

void target_set::refresh(std::vector<uint32_t>& copy, uint64_t& seen) const {
  if (generation_.load() == seen)
    return;
  std::lock_guard<std::mutex> guard{mutex_};
  copy = pids_;
  seen = generation_.load();
}

} // namespace drover::platform
