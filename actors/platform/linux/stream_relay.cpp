#include "actors/platform/stream_relay.hpp"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/platform/linux/datagram_worker.hpp"
#include "actors/platform/linux/relay_worker.hpp"

namespace drover::platform {

namespace {

using linux_port::datagram_id_tag;
using linux_port::datagram_worker;
using linux_port::endpoint_of;
using linux_port::errno_text;
using linux_port::relay_shared;
using linux_port::worker;

class linux_relay final : public stream_relay {
public:
  linux_relay(int listener, int intake, relay_options opts,
              relay_events& events)
      : listener_(listener), intake_(intake) {
    shared_.mode.store(opts.mode);
    shared_.udp_mode.store(opts.udp_mode);
    shared_.options = std::move(opts);
    shared_.events = &events;
  }

  ~linux_relay() override {
    for (auto& w : workers_)
      w->stop();
    workers_.clear();
    if (datagrams_)
      datagrams_->stop();
    datagrams_.reset(); // closes the intake
    if (intake_ >= 0 && !intake_taken_)
      ::close(intake_);
    ::close(listener_);
  }

  bool start(std::string& error) {
    sockaddr_in own{};
    socklen_t len = sizeof own;
    if (::getsockname(listener_, reinterpret_cast<sockaddr*>(&own), &len)
        != 0) {
      error = "the relay's listener: " + errno_text(errno);
      return false;
    }
    shared_.own = endpoint_of(own);
    int flags = ::fcntl(listener_, F_GETFL);
    ::fcntl(listener_, F_SETFL, flags | O_NONBLOCK);
    // Accepted connections inherit it: one system call less for each.
    int one = 1;
    ::setsockopt(listener_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    unsigned n = shared_.options.threads;
    if (n == 0)
      n = std::clamp((std::thread::hardware_concurrency() + 1) / 2, 1u, 8u);
    for (unsigned i = 0; i < n; ++i) {
      workers_.push_back(std::make_unique<worker>(shared_, i));
      if (!workers_.back()->open(listener_, error))
        return false;
    }
    if (shared_.mode.load() == relay_mode::refuse && !pause_listener(true)) {
      error = "the relay's listener: " + errno_text(errno);
      return false;
    }
    if (intake_ >= 0) {
      datagrams_ = std::make_unique<datagram_worker>(shared_);
      intake_taken_ = true;
      if (!datagrams_->open(intake_, error))
        return false;
    }
    for (size_t i = 0; i < workers_.size(); ++i)
      workers_[i]->start("relay-tcp-" + std::to_string(i));
    if (datagrams_)
      datagrams_->start("relay-udp");
    return true;
  }

  void set_pipelining(bool on) override { shared_.pipelining.store(on); }

  bool set_mode(relay_mode m, relay_mode udp, std::string& error) override {
    shared_.udp_mode.store(udp);
    auto old = shared_.mode.exchange(m);
    if ((old == relay_mode::refuse) == (m == relay_mode::refuse)
        || pause_listener(m == relay_mode::refuse))
      return true;
    error = "the relay's listener cannot listen again: " + errno_text(errno);
    return false;
  }

  // Not proxying: the listener stops listening but keeps its port (Linux
  // lets a listening socket be shut down and listen again; HAProxy pauses
  // its listeners so). A redirected SYN then meets a reset from the kernel
  // itself: the application's connect() fails at once with "connection
  // refused", as with no Drover and no server, instead of succeeding and
  // being reset. Never direct either way.
  bool pause_listener(bool pause) {
    std::lock_guard<std::mutex> lock{listener_mutex_};
    if (pause)
      return ::shutdown(listener_, SHUT_RDWR) == 0;
    return ::listen(listener_, SOMAXCONN) == 0;
  }

  void close(uint64_t id) override {
    auto i = id & 0xff;
    if (i < workers_.size())
      workers_[i]->close(id);
    else if (i == datagram_id_tag && datagrams_)
      datagrams_->close(id);
  }

  void close_all() override {
    for (auto& w : workers_)
      w->close_all();
    if (datagrams_)
      datagrams_->close_all();
  }

  relay_mode mode() const override { return shared_.mode.load(); }

private:
  int listener_;
  int intake_;
  bool intake_taken_ = false; // the datagram worker closes it
  relay_shared shared_;
  std::mutex listener_mutex_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::unique_ptr<datagram_worker> datagrams_;
};

} // namespace

std::unique_ptr<stream_relay> start_stream_relay(socket_handle listener,
                                                 socket_handle intake,
                                                 relay_options options,
                                                 relay_events& events,
                                                 std::string& error) {
  auto relay = std::make_unique<linux_relay>(listener, intake,
                                             std::move(options), events);
  if (!relay->start(error))
    return nullptr;
  return relay;
}

} // namespace drover::platform
