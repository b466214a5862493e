// Any bytes that come back through a proxy's UDP relay, as a STUN Binding
// response: the parser must never read past them, and a success must carry
// an address that really is in the message.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "net/stun.hpp"

using namespace drover::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size copy, so AddressSanitizer sees any read past the end.
  std::vector<uint8_t> buf(data, data + size);
  stun::transaction_id id{};
  if (size >= 20)
    std::memcpy(id.data(), data + 8, id.size());
  endpoint mapped;
  auto e = stun::parse_binding_response(buf.data(), buf.size(), id, mapped);
  if (e == stun::error::none && size < stun::header_size + 8)
    std::abort(); // a success needs a header and an address attribute
  if (stun::message(e)[0] == '\0')
    std::abort();
  return 0;
}
