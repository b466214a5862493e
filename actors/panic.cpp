#include "actors/panic.hpp"

#include <caf/mailbox_element.hpp>

#include "actors/log/logging.hpp"
#include "actors/log/redact.hpp"
#include "actors/log/trace.hpp"
#include "messages/error.hpp"

namespace drover {

void report_panics(caf::scheduled_actor* self) {
  self->set_exception_handler([](caf::scheduled_actor* a,
                                 std::exception_ptr& e) -> caf::error {
    std::string what = "an unknown exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      what = x.what();
    } catch (...) { // anything thrown is a panic all the same
    }
    std::string handling = "(no message)";
    if (auto* m = a->current_mailbox_element())
      handling = to_string(m->content());
    // Redacted before it is cut short: a cut through a secret would leave
    // a piece no longer recognised.
    log::redact_secrets(what);
    log::redact_secrets(handling);
    constexpr size_t shown = 300; // a packet batch prints long
    if (handling.size() > shown)
      handling = handling.substr(0, shown) + "...";
    std::string actor = a->name();
    log::get(actor)->critical("panic: {} while handling {}", what, handling);
    trace::record(actor, "panic", {{"what", what}, {"message", handling}});
    return caf::make_error(ec::panic, actor, what, handling);
  });
}

panic_details panic_of(const caf::error& reason) {
  panic_details d;
  if (reason.category() != caf::atom("drover")
      || reason.code() != static_cast<uint8_t>(ec::panic))
    return d;
  auto& ctx = reason.context();
  if (!ctx.match_elements<std::string, std::string, std::string>())
    return d;
  d.actor = ctx.get_as<std::string>(0);
  d.what = ctx.get_as<std::string>(1);
  d.handling = ctx.get_as<std::string>(2);
  return d;
}

std::string describe_exit(caf::actor_system& sys, const caf::error& reason) {
  if (!reason)
    return "it ended without an error"; // no context to look at
  return error_sentence(sys, reason);
}

std::string error_sentence(caf::actor_system& sys, const caf::error& e) {
  if (!e)
    return "no error";
  auto& ctx = e.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  if (e == caf::sec::request_timeout)
    return "it did not answer in time";
  if (e == caf::sec::request_receiver_down)
    return "it is not running";
  return sys.render(e);
}

} // namespace drover
