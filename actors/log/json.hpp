#pragma once

#include <string>
#include <string_view>

namespace drover::json {

/// Appends `s` as a JSON string (quoted, escaped) to `out`.
void append_string(std::string& out, std::string_view s);

} // namespace drover::json
