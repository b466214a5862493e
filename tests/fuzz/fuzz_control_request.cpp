// Any bytes on the control socket, arriving a piece at a time the way a
// socket delivers them: the reader waits, answers or turns the caller
// away, never reads past what it got, and says the same of the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/control_protocol.hpp"

using namespace drover::net::control;

namespace {

constexpr size_t max_body = 4096;

bool printable_only(const std::string& s) {
  for (char c : s)
    if (c < 0x20 || c > 0x7e)
      return false;
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all{reinterpret_cast<const char*>(data), size};
  bool ended = false; // once complete or refused, it stays so
  request last;
  for (size_t len = 0; len <= all.size(); ++len) {
    auto r = read_request(all.substr(0, len), max_body);
    if (ended) {
      // More bytes after the end change nothing.
      if (r.result != last.result || r.kind != last.kind || r.body != last.body
          || r.argument != last.argument)
        std::abort();
      continue;
    }
    auto nl = all.substr(0, len).find('\n');
    if (r.result == request::state::need_more) {
      if (nl == std::string_view::npos ? len > max_command_line
                                       : r.kind != command_kind::config_set)
        std::abort();
      continue;
    }
    if (nl == std::string_view::npos && r.result == request::state::complete)
      std::abort();
    if (r.body.size() > max_body || r.argument.size() > 64
        || !printable_only(r.argument))
      std::abort();
    if (r.result == request::state::complete
        && r.kind == command_kind::config_set
        && all.substr(nl + 1, r.body.size()) != r.body)
      std::abort();
    ended = true;
    last = r;
  }
  return 0;
}
