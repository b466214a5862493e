#include "net/socks5_handshake.hpp"

namespace drover::net::socks5 {

client_handshake::client_handshake(bool with_login, std::string_view login,
                                   std::string_view password, command cmd,
                                   const address& destination)
    : with_login_(with_login), request_given_(true), login_(login),
      password_(password), command_(cmd), destination_(destination) {}

client_handshake::client_handshake(bool with_login, std::string_view login,
                                   std::string_view password)
    : with_login_(with_login), request_given_(false), login_(login),
      password_(password), command_(command::connect) {}

client_handshake::step client_handshake::request(command cmd,
                                                 const address& destination) {
  if (stage_ != stage::ready)
    return fail(error::out_of_order);
  command_ = cmd;
  destination_ = destination;
  return send_request(0);
}

client_handshake::step client_handshake::send(size_t size, size_t consumed) {
  step s;
  s.what = step::action::send;
  s.bytes = out_.data();
  s.size = size;
  s.consumed = consumed;
  return s;
}

client_handshake::step client_handshake::fail(error e) {
  stage_ = stage::failed;
  err_ = e;
  step s;
  s.what = step::action::failed;
  s.err = e;
  return s;
}

client_handshake::step client_handshake::send_request(size_t consumed) {
  if (!request_given_ && stage_ != stage::ready) {
    stage_ = stage::ready;
    step s;
    s.what = step::action::ready;
    s.consumed = consumed;
    return s;
  }
  auto n = encode_request(out_.data(), out_.size(), command_, destination_);
  if (n == 0)
    return fail(error::buffer_too_small);
  stage_ = stage::request;
  return send(n, consumed);
}

client_handshake::step client_handshake::start() {
  stage_ = stage::greeting;
  return send(encode_greeting(out_.data(), out_.size(), with_login_), 0);
}

client_handshake::step client_handshake::start_pipelined() {
  if (with_login_ || !request_given_)
    return fail(error::out_of_order);
  auto greeting = encode_greeting(out_.data(), out_.size(), false);
  auto n = encode_request(out_.data() + greeting, out_.size() - greeting,
                          command_, destination_);
  if (greeting == 0 || n == 0)
    return fail(error::buffer_too_small);
  stage_ = stage::greeting;
  request_sent_ = true;
  return send(greeting + n, 0);
}

client_handshake::step client_handshake::feed(const uint8_t* data,
                                              size_t length) {
  parse_status parsed;
  switch (stage_) {
    case stage::greeting: {
      method chosen = method::no_auth;
      parsed = parse_method_selection(data, length, with_login_, chosen);
      if (!parsed.done())
        break;
      if (chosen != method::username_password && request_sent_) {
        // The request went with the greeting: its reply follows.
        stage_ = stage::request;
        auto next = feed(data + parsed.consumed, length - parsed.consumed);
        next.consumed += parsed.consumed;
        return next;
      }
      if (chosen != method::username_password)
        return send_request(parsed.consumed);
      // The same check for every caller: a login that cannot be encoded
      // ends the exchange, it is never sent empty.
      auto n = encode_auth(out_.data(), out_.size(), login_, password_);
      if (n == 0)
        return fail(error::credentials_too_long);
      stage_ = stage::authentication;
      return send(n, parsed.consumed);
    }
    case stage::authentication:
      parsed = parse_auth_reply(data, length);
      if (!parsed.done())
        break;
      return send_request(parsed.consumed);
    case stage::request: {
      parsed = parse_reply(data, length, bound_);
      if (!parsed.done())
        break;
      stage_ = stage::done;
      step s;
      s.what = step::action::done;
      s.consumed = parsed.consumed;
      return s;
    }
    case stage::ready: {
      step s;
      s.what = step::action::ready;
      return s;
    }
    case stage::done: {
      step s;
      s.what = step::action::done;
      return s;
    }
    case stage::failed:
      return fail(err_);
  }
  if (parsed.failed())
    return fail(parsed.err);
  return step{};
}

} // namespace drover::net::socks5
