#pragma once

// Panics: an exception that escapes an actor's handler is a bug. CAF would
// end the actor with a bare runtime_error; report_panics() makes that exit
// an ec::panic that says which actor, what was thrown and which message it
// was handling, for the supervisor's crash report.

#include <string>

#include <caf/error.hpp>
#include <caf/scheduled_actor.hpp>

namespace drover {

/// Installs the panic handler on `self` (call first thing in a behavior
/// function).
void report_panics(caf::scheduled_actor* self);

/// A panic's parts, read back from the exit reason; empty `actor` when
/// `reason` is not a panic made by report_panics().
struct panic_details {
  std::string actor;
  std::string what;     // the exception's message
  std::string handling; // the message being handled, shortened
};

panic_details panic_of(const caf::error& reason);

/// An actor's exit reason in words: the engine's own errors carry a
/// sentence; CAF's are rendered.
std::string describe_exit(caf::actor_system& sys, const caf::error& reason);

/// A failed request's error as a sentence for a user (the engine's own
/// errors carry one; "it did not answer in time", "it is not running" for
/// CAF's two a user can meet), never CAF's rendering unless nothing else
/// is known.
std::string error_sentence(caf::actor_system& sys, const caf::error& e);

} // namespace drover
