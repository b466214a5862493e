#pragma once

// Schema migrations: a file written by an older Drover is brought up to
// current_version in memory before validation. A file without `version` is
// version 1.

#include <functional>
#include <vector>

#include "config/toml_library.hpp"

namespace drover::config {

/// One step: rewrites a document of version `from` into version `from + 1`.
struct migration {
  int from;
  std::function<void(toml::table&)> apply;
};

/// The migrations this build knows (none yet: version 1 is the first).
const std::vector<migration>& known_migrations();

/// Brings `doc` from `version` up to `target` with `steps`, in order, and
/// sets its `version` key. Returns false if a step is missing.
bool migrate(toml::table& doc, int version, int target,
             const std::vector<migration>& steps);

} // namespace drover::config
