#include "actors/platform/lan_broadcasts.hpp"

#include <algorithm>

namespace drover::platform {

bool lan_broadcasts::publish(const std::vector<net::ipv4_address>& now) {
  std::vector<uint32_t> sorted;
  sorted.reserve(now.size());
  for (auto a : now)
    sorted.push_back(a.value);
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::lock_guard<std::mutex> guard{mutex_};
  if (sorted == sorted_)
    return false;
  sorted_ = std::move(sorted);
  generation_.fetch_add(1);
  return true;
}

std::vector<net::ipv4_address> lan_broadcasts::current() const {
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<net::ipv4_address> out;
  out.reserve(sorted_.size());
  for (auto v : sorted_)
    out.push_back(net::ipv4_address{v});
  return out;
}

void lan_broadcasts::refresh(std::vector<uint32_t>& copy,
                             uint64_t& seen) const {
  if (generation_.load() == seen)
    return;
  std::lock_guard<std::mutex> guard{mutex_};
  copy = sorted_;
  seen = generation_.load();
}

bool lan_broadcasts_view::contains(uint32_t address) {
  if (list_ != nullptr)
    list_->refresh(sorted_, seen_);
  return std::binary_search(sorted_.begin(), sorted_.end(), address);
}

} // namespace drover::platform
