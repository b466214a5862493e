#include "actors/session_keeper.hpp"

#include <algorithm>

#include <caf/abstract_actor.hpp>
#include <caf/actor_cast.hpp>

namespace drover {

session_keeper::~session_keeper() {
  leave_to_borrowers();
}

void session_keeper::leave_to_borrowers() {
  if (!session_ || borrowers_.empty())
    return;
  // Each borrower still up holds a share, dropped at its end (after its
  // state is gone, or at once if it has ended already).
  std::shared_ptr<platform::capture_session> shared{std::move(session_)};
  for (auto& b : borrowers_)
    if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(b))
      strong->get()->attach_functor([shared] {});
  borrowers_.clear();
}

void session_keeper::hold(std::unique_ptr<platform::capture_session> session) {
  // The machine starts a session only once the last is gone; should one
  // still be lent, it is never destroyed under its borrowers.
  leave_to_borrowers();
  session_ = std::move(session);
  released_ = false;
}

void session_keeper::lend(const caf::actor_addr& borrower) {
  if (session_ && borrower)
    borrowers_.push_back(borrower);
}

bool session_keeper::on_down(const caf::actor_addr& source) {
  auto it = std::find(borrowers_.begin(), borrowers_.end(), source);
  if (it == borrowers_.end())
    return false;
  borrowers_.erase(it);
  if (!released_ || !borrowers_.empty())
    return false;
  session_.reset();
  return true;
}

bool session_keeper::release() {
  if (!session_)
    return false;
  released_ = true;
  if (!borrowers_.empty())
    return false;
  session_.reset();
  return true;
}

} // namespace drover
