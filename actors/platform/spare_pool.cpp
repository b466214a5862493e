#include "actors/platform/spare_pool.hpp"

#include <algorithm>
#include <vector>

#include "actors/platform/probe_socket.hpp"

namespace drover::platform {

namespace {

using clock = net::spare_demand::clock;
using action = net::socks5::client_handshake::step::action;

// The thread looks at its stop flag this often while it waits on a socket.
constexpr std::chrono::milliseconds slice{50};
// A spare the proxy refused or did not answer pauses them: the sessions
// themselves then meet and report the trouble.
constexpr std::chrono::seconds pause_after_failure{5};
// A greeting's answers are a few bytes; more is not a SOCKS5 proxy.
constexpr size_t greeting_limit = 512;

} // namespace

spare_pool::spare_pool(spare_pool_options options)
    : options_(std::make_shared<const spare_pool_options>(std::move(options))) {
  if (options_->spares > 0)
    thread_ = std::thread{[this] {
      run();
    }};
}

spare_pool::~spare_pool() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

std::unique_ptr<spare_connection> spare_pool::take() {
  std::unique_lock<std::mutex> lock{mutex_};
  auto now = clock::now();
  demand_.note(now);
  std::unique_ptr<spare_connection> found;
  while (!ready_.empty() && !found) {
    auto r = std::move(ready_.front());
    ready_.pop_front();
    // A greeted proxy says nothing until asked: bytes or an end mean it
    // gave the connection up (its own timeout, a restart).
    if (r.born + options_->lifetime <= now)
      continue;
    if (still_open(r.spare->fd))
      found = std::move(r.spare);
    else
      ++counters_.ended;
  }
  lock.unlock();
  wake_.notify_all(); // a replacement, if the burst wants one
  return found;
}

void spare_pool::drop_all() {
  std::deque<ready_spare> gone; // closed outside the lock
  {
    std::lock_guard<std::mutex> guard{mutex_};
    gone.swap(ready_);
    demand_.forget();
  }
}

spare_pool::counters spare_pool::stats() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return counters_;
}

bool spare_pool::still_open(socket_handle fd) {
  probe_socket s;
  s.adopt(fd);
  bool readable = s.wait(false, std::chrono::milliseconds{0});
  s.release();
  return !readable;
}

// One spare on its way: connecting, then greeting (and logging in).
struct spare_pool::in_progress {
  probe_socket socket;
  std::unique_ptr<spare_connection> spare;
  std::vector<uint8_t> pending; // the proxy's answers so far
  clock::time_point deadline;
  bool connected = false;
};

void spare_pool::run() {
  making_list making;
  std::unique_lock<std::mutex> lock{mutex_};
  clock::time_point paused_until{};
  while (!stop_) {
    auto now = clock::now();
    // Unused ones past their lifetime go (the proxy may be about to end
    // them), whatever a burst wants.
    while (!ready_.empty() && ready_.front().born + options_->lifetime <= now)
      ready_.pop_front();
    // Those the proxy ended meanwhile go too, so the burst gets others.
    for (auto it = ready_.begin(); it != ready_.end();)
      if (still_open(it->spare->fd)) {
        ++it;
      } else {
        it = ready_.erase(it);
        ++counters_.ended;
      }
    // As many on their way at once as the burst wants: each takes two
    // round trips to the proxy (three with a login), and a burst's
    // connections come faster than that.
    auto wanted = demand_.wanted(now, options_->spares);
    while (now >= paused_until && ready_.size() + making.size() < wanted) {
      auto m = start_one();
      if (!m) {
        ++counters_.failed;
        paused_until = now + pause_after_failure;
        break;
      }
      making.push_back(std::move(m));
    }
    if (!making.empty()) {
      lock.unlock();
      auto made = advance(making); // one slice at most
      lock.lock();
      for (auto& spare : made.ready) {
        ready_.push_back({std::move(spare), clock::now()});
        ++counters_.opened;
      }
      if (made.failed > 0 && !stop_) {
        counters_.failed += made.failed;
        paused_until = clock::now() + pause_after_failure;
      }
      continue;
    }
    if (ready_.empty() && wanted == 0 && paused_until <= now) {
      wake_.wait(lock); // nothing to keep or make until a session comes
      continue;
    }
    // Until a session takes one, the oldest expires, or a pause ends; at
    // least once a second (the demand's seconds roll).
    auto until = now + std::chrono::seconds{1};
    if (!ready_.empty())
      until = std::min(until, ready_.front().born + options_->lifetime);
    if (paused_until > now)
      until = std::min(until, paused_until);
    wake_.wait_until(lock, until);
  }
  ready_.clear();
}

std::unique_ptr<spare_pool::in_progress> spare_pool::start_one() {
  std::string why;
  auto fd = start_tcp_connect(options_->proxy, why);
  if (fd == invalid_socket)
    return nullptr;
  auto m = std::make_unique<in_progress>();
  m->socket.adopt(fd);
  m->deadline = clock::now() + options_->connect_timeout;
  return m;
}

// Waits (one slice at most, so a stop or a new demand is seen within one)
// until any spare on its way has news, and moves those on.
spare_pool::progress_made spare_pool::advance(making_list& making) {
  progress_made made;
  socket_wait waits[max_socket_waits];
  auto count = std::min(making.size(), max_socket_waits);
  auto now = clock::now();
  auto until = now + slice;
  for (size_t i = 0; i < count; ++i) {
    waits[i] = {making[i]->socket.handle(), !making[i]->connected, false};
    until = std::min(until, making[i]->deadline);
  }
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::max(until - now, clock::duration::zero()));
  wait_any(waits, count, timeout);
  now = clock::now();
  for (size_t i = count; i-- > 0;) {
    auto result = waits[i].ready ? step(*making[i]) : step_result::going;
    if (result == step_result::going && now >= making[i]->deadline)
      result = step_result::failed; // the proxy did not answer in time
    if (result == step_result::going)
      continue;
    if (result == step_result::ready) {
      making[i]->spare->fd = making[i]->socket.release();
      made.ready.push_back(std::move(making[i]->spare));
    } else {
      ++made.failed;
    }
    making.erase(making.begin() + static_cast<long>(i));
  }
  return made;
}

// One spare's news: its connect ended, or the proxy answered.
spare_pool::step_result spare_pool::step(in_progress& m) {
  std::string why;
  auto& s = m.socket;
  bool write_failed = false;
  auto send = [&](const uint8_t* bytes, size_t size) {
    // A fresh socket's buffer always takes a SOCKS5 message's few bytes.
    size_t n = 0;
    if (s.send(bytes, size, n, why) != probe_socket::status::done || n != size)
      write_failed = true;
  };
  if (!m.connected) {
    if (!s.connect_result().empty())
      return step_result::failed;
    m.connected = true;
    m.spare = std::make_unique<spare_connection>();
    m.spare->options = options_;
    m.spare->exchange = std::make_unique<net::socks5::client_handshake>(
        options_->auth, options_->login, options_->password);
    auto greeting = m.spare->exchange->start();
    send(greeting.bytes, greeting.size);
    return write_failed ? step_result::failed : step_result::going;
  }
  uint8_t buffer[greeting_limit];
  size_t n = 0;
  auto got = s.receive(buffer, sizeof buffer, n, why);
  if (got == probe_socket::status::would_block)
    return step_result::going;
  if (got != probe_socket::status::done || n == 0
      || m.pending.size() + n > greeting_limit)
    return step_result::failed; // an error, an end, or not a SOCKS5 proxy
  m.pending.insert(m.pending.end(), buffer, buffer + n);
  auto next = net::socks5::drive(*m.spare->exchange, m.pending, send);
  if (write_failed)
    return step_result::failed;
  if (next.what == action::ready) // bytes beyond its answer: not SOCKS5
    return m.pending.empty() ? step_result::ready : step_result::failed;
  return next.what == action::need_more ? step_result::going
                                        : step_result::failed;
}

} // namespace drover::platform
