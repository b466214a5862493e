// Any bytes from a (lying) proxy through the one SOCKS5 client sequence
// (net/socks5_handshake), with and without a login, pipelined or not, fed
// whole and a byte at a time: it sends only what it built, never consumes
// more than it was given, ends (done or failed) or waits, and the pieces
// change nothing.
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

#include "net/socks5_handshake.hpp"

using namespace drover::net::socks5;
using action = client_handshake::step::action;

namespace {

struct outcome {
  client_handshake::stage stage;
  error err = error::none;
  size_t leftover = 0;
  std::vector<std::vector<uint8_t>> sent;
};

outcome run(const uint8_t* data, size_t size, bool login, size_t piece,
            bool pipelined) {
  client_handshake h{
      login, "login", "password", command::connect,
      address::from_ipv4(drover::net::ipv4_address{0x0a000001}, 443)};
  outcome o;
  auto first = pipelined ? h.start_pipelined() : h.start();
  if (pipelined && first.what != action::send)
    std::abort(); // no login: it always may
  o.sent.emplace_back(first.bytes, first.bytes + first.size);
  std::vector<uint8_t> pending;
  size_t at = 0;
  // Bounded: each round consumes, sends or takes input.
  for (size_t rounds = 0; rounds < 4 * size + 16; ++rounds) {
    auto s = h.feed(pending.data(), pending.size());
    if (s.consumed > pending.size())
      std::abort();
    if (s.what == action::send && (s.size == 0 || s.size > 520))
      std::abort();
    pending.erase(pending.begin(),
                  pending.begin() + static_cast<long>(s.consumed));
    if (s.what == action::send) {
      o.sent.emplace_back(s.bytes, s.bytes + s.size);
      continue;
    }
    if (s.what == action::failed) {
      if (message(s.err)[0] == '\0')
        std::abort();
      o.err = s.err;
      break;
    }
    if (s.what == action::done || at == size)
      break;
    auto n = piece < size - at ? piece : size - at;
    pending.insert(pending.end(), data + at, data + at + n);
    at += n;
  }
  o.stage = h.current();
  o.leftover = pending.size() + (size - at);
  return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Pipelined (greeting and request together) only without a login.
  for (auto [login, pipelined] :
       {std::pair{false, false}, {true, false}, {false, true}}) {
    auto whole = run(data, size, login, size > 0 ? size : 1, pipelined);
    auto bytewise = run(data, size, login, 1, pipelined);
    if (whole.stage != bytewise.stage || whole.err != bytewise.err
        || whole.sent != bytewise.sent)
      std::abort();
    if (whole.stage == client_handshake::stage::done
        && whole.leftover != bytewise.leftover)
      std::abort();
    // At most the greeting, the login and the request; pipelined, the one
    // message that holds both.
    if (whole.sent.size() > (pipelined ? 1u : 3u))
      std::abort();
  }
  return 0;
}
