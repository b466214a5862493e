#pragma once

// The capture session has one owner: the supervisor, through this keeper.
// The engine's parts borrow it (the divert-reader its packet port, the
// flow-manager and procscan the session, a UDP association its injector)
// and the keeper destroys it once the owner let go and every borrower is
// down. That is safe because a borrower ends its use before its down
// message leaves: CAF 0.17.6 destroys a stateful actor's state (the
// divert-reader joins its receive thread there) and a broker's behaviour
// before it tells its monitors (tests/actors/session_keeper_test.cpp pins
// this).

#include <memory>
#include <vector>

#include <caf/actor_addr.hpp>

#include "actors/platform/capture.hpp"

namespace drover {

class session_keeper {
public:
  session_keeper() = default;
  session_keeper(const session_keeper&) = delete;
  session_keeper& operator=(const session_keeper&) = delete;
  /// If the owner ends first (the supervisor panicked), the borrowers
  /// still up keep the session until the last of them has ended.
  ~session_keeper();

  /// The session of a new start (the last one is gone by then: both bind
  /// the same packet queue).
  void hold(std::unique_ptr<platform::capture_session> session);

  /// The session, or null.
  platform::capture_session* get() const { return session_.get(); }

  /// `borrower` uses the session until its down message reaches the owner;
  /// the owner monitors it.
  void lend(const caf::actor_addr& borrower);

  /// A down message reached the owner. True when it was the last borrower
  /// of a session the owner had let go: the session is destroyed now.
  bool on_down(const caf::actor_addr& source);

  /// The owner lets go. True when the session is destroyed now; false when
  /// there was none, or a borrower still uses it (then on_down() says
  /// when it goes).
  bool release();

  /// Borrowers still up.
  size_t borrowers() const { return borrowers_.size(); }

private:
  // Hands the session to the borrowers still up: the last to end destroys
  // it.
  void leave_to_borrowers();

  std::unique_ptr<platform::capture_session> session_;
  std::vector<caf::actor_addr> borrowers_;
  bool released_ = false;
};

} // namespace drover
