#include "actors/platform/spare_pool.hpp"

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
  if (found)
    ++counters_.taken;
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

void spare_pool::run() {
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
    auto wanted = demand_.wanted(now, options_->spares);
    if (ready_.size() < wanted && now >= paused_until) {
      lock.unlock();
      std::string why;
      auto spare = make_one(why);
      lock.lock();
      if (spare) {
        ready_.push_back({std::move(spare), clock::now()});
        ++counters_.opened;
      } else if (!stop_) {
        ++counters_.failed;
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

std::unique_ptr<spare_connection> spare_pool::make_one(std::string& why) {
  const auto& o = *options_;
  auto deadline = clock::now() + o.connect_timeout;
  auto stopping = [&] {
    std::lock_guard<std::mutex> guard{mutex_};
    return stop_;
  };
  // Waits in slices, so a stop is seen within one.
  auto wait = [&](probe_socket& s, bool for_write) {
    while (!s.wait(for_write, slice))
      if (stopping() || clock::now() >= deadline)
        return false;
    return true;
  };
  probe_socket s;
  auto fd = start_tcp_connect(o.proxy, why);
  if (fd == invalid_socket)
    return nullptr;
  s.adopt(fd);
  if (!wait(s, true) || !(why = s.connect_result()).empty())
    return nullptr;
  auto spare = std::make_unique<spare_connection>();
  spare->options = options_;
  spare->exchange = std::make_unique<net::socks5::client_handshake>(
      o.auth, o.login, o.password);
  bool write_failed = false;
  auto send = [&](const uint8_t* bytes, size_t size) {
    // A fresh socket's buffer always takes a SOCKS5 message's few bytes.
    size_t n = 0;
    if (s.send(bytes, size, n, why) != probe_socket::status::done || n != size)
      write_failed = true;
  };
  auto greeting = spare->exchange->start();
  send(greeting.bytes, greeting.size);
  std::vector<uint8_t> pending;
  uint8_t buffer[greeting_limit];
  while (!write_failed) {
    if (!wait(s, false))
      return nullptr;
    size_t n = 0;
    auto got = s.receive(buffer, sizeof buffer, n, why);
    if (got == probe_socket::status::would_block)
      continue;
    if (got != probe_socket::status::done || n == 0
        || pending.size() + n > greeting_limit)
      return nullptr; // an error, an end, or not a SOCKS5 proxy
    pending.insert(pending.end(), buffer, buffer + n);
    auto step = net::socks5::drive(*spare->exchange, pending, send);
    if (step.what == action::ready) {
      // Bytes beyond the greeting's answer: not a SOCKS5 proxy.
      if (!pending.empty())
        return nullptr;
      spare->fd = s.release();
      return spare;
    }
    if (step.what != action::need_more)
      return nullptr;
  }
  return nullptr;
}

} // namespace drover::platform
