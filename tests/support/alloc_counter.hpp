#pragma once

// Counts heap allocations made by the current thread while an
// allocation_counter is alive (alloc_counter.cpp replaces operator new).

#include <cstddef>

namespace drover::test {

class allocation_counter {
public:
  allocation_counter();
  ~allocation_counter();
  allocation_counter(const allocation_counter&) = delete;
  allocation_counter& operator=(const allocation_counter&) = delete;

  size_t count() const;
};

} // namespace drover::test
