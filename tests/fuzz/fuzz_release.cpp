// Whatever a release server sends as SHA256SUMS, its signature or a tag:
// read within bounds, never accepted unless the signature is the key's.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "net/release.hpp"

using namespace drover::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<char> buf(data, data + size);
  std::string_view text{buf.data(), buf.size()};
  std::string error;
  if (auto list = release::parse_sums(text, error)) {
    if (list->empty())
      std::abort();
    for (const auto& e : *list)
      if (e.name.empty() || e.name.find('/') != std::string::npos)
        std::abort();
  } else if (error.empty()) {
    std::abort();
  }
  // The first 128 bytes as a signature over the rest, with a key nobody
  // holds: never valid.
  static const ed25519_public_key key = *release::parse_public_key(
      "0172bd2dfb7bdb14338dc076625bb5a388fa1fae45831698fe426e103668700e");
  size_t split = text.size() < 128 ? text.size() : 128;
  if (release::verify_sums(text.substr(split), text.substr(0, split), key,
                           error))
    std::abort();
  if (auto v = release::parse_version(text.substr(0, 24)))
    if (!release::parse_version(v->text()))
      std::abort();
  return 0;
}
