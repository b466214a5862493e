#pragma once

// The client's side of one SOCKS5 exchange (RFC 1928, RFC 1929), the one
// sequence every part of Drover that talks to the proxy follows: the
// greeting, the login when the proxy picks it, one request (CONNECT or UDP
// ASSOCIATE), its reply. A state machine fed the proxy's bytes: it says
// what to send and when it is done (with the bound address, and how much of
// the input was the reply: what follows is the application's), or what is
// wrong. No I/O, no allocation.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "net/socks5.hpp"

namespace drover::net::socks5 {

class client_handshake {
public:
  enum class stage : uint8_t {
    greeting,       // the greeting went out; the method selection is awaited
    authentication, // the login went out; its reply is awaited
    ready,          // greeted and logged in; request() sends the request
    request,        // the request went out; its reply is awaited
    done,
    failed,
  };

  /// What to do after start() or feed().
  struct step {
    // ready: only without a request given up front; call request().
    enum class action : uint8_t { send, need_more, ready, done, failed };
    action what = action::need_more;
    const uint8_t* bytes = nullptr; // send: what to write to the proxy
    size_t size = 0;
    size_t consumed = 0; // of the bytes fed: read and used up
    error err = error::none;
  };

  /// `login` and `password` must outlive the handshake; they are sent only
  /// if the proxy picks the login, which is offered when `with_login`. The
  /// request (`cmd` to `destination`) goes as soon as the proxy lets it.
  client_handshake(bool with_login, std::string_view login,
                   std::string_view password, command cmd,
                   const address& destination);

  /// Without a request: feed() stops at action::ready once greeted and
  /// logged in (the proxy check times each step and looks a name up in
  /// between), and request() goes on.
  client_handshake(bool with_login, std::string_view login,
                   std::string_view password);

  /// The greeting (action::send).
  step start();

  /// The greeting and the request in one message (action::send), saving a
  /// round trip; only for a request given up front and without a login
  /// (which the proxy must pick before it is sent). Only for a proxy known
  /// to read both from one segment: some read one message per read and
  /// would never see the request. Anywhere else the exchange fails.
  step start_pipelined();

  /// Feeds what the proxy sent that earlier calls did not consume. One
  /// message at a time: after action::send, write the bytes, then feed
  /// what is left (data + consumed). action::done: the reply ended at
  /// `consumed`; anything after it is the application's (CONNECT).
  step feed(const uint8_t* data, size_t length);

  /// The request, at stage::ready (action::send); anywhere else the
  /// exchange fails (a caller's mistake, not the proxy's).
  step request(command cmd, const address& destination);

  stage current() const { return stage_; }

  /// The proxy's bound address (after done): a UDP relay's address.
  const address& bound() const { return bound_; }

private:
  step send(size_t size, size_t consumed);
  step fail(error e);
  step send_request(size_t consumed);

  bool with_login_;
  bool request_given_;
  bool request_sent_ = false; // with the greeting (start_pipelined)
  std::string_view login_;
  std::string_view password_;
  command command_;
  address destination_;
  address bound_;
  stage stage_ = stage::greeting;
  error err_ = error::none;
  // The login (3 + 255 + 255 bytes) is the longest message sent.
  std::array<uint8_t, 520> out_{};
};

/// Feeds `pending` (the proxy's bytes not yet used) to `h` until it needs
/// more, is ready, done or failed, handing each message to send to
/// `write(bytes, size)`. Used bytes leave `pending`; once done, what is left
/// followed the reply (the application's bytes, after CONNECT). Returns the
/// last step: need_more, ready, done or failed.
template<class Write>
client_handshake::step drive(client_handshake& h, std::vector<uint8_t>& pending,
                             Write&& write) {
  size_t used = 0;
  for (;;) {
    auto step = h.feed(pending.data() + used, pending.size() - used);
    used += step.consumed;
    if (step.what == client_handshake::step::action::send) {
      write(step.bytes, step.size);
      continue;
    }
    pending.erase(pending.begin(),
                  pending.begin() + static_cast<std::ptrdiff_t>(used));
    return step;
  }
}

} // namespace drover::net::socks5
