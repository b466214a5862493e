#include "actors/platform/linux/nfqueue.hpp"
#include "actors/platform/linux/procfs.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "net/capture_rules.hpp"

namespace drover::platform::linux_port {

namespace {

std::string errno_text(const char* what) {
  return std::string{what} + ": " + std::strerror(errno);
}

class nfqueue_port final : public packet_port {
public:
  nfqueue_port(mnl_socket* nl, uint16_t queue, queue_marks marks, int wake)
      : nl_(nl), portid_(mnl_socket_get_portid(nl)), queue_(queue),
        marks_(marks), wake_(wake), tx_(tx_size) {
    // One sendto must fit the socket's send buffer (EMSGSIZE otherwise, and
    // the verdicts would be lost): make it large, and never send more than
    // half of what the kernel granted at once.
    int fd = mnl_socket_get_fd(nl);
    int want = static_cast<int>(tx_size * 2);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want);
    int granted = 0;
    socklen_t len = sizeof granted;
    ::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &granted, &len);
    tx_limit_ = std::clamp<size_t>(static_cast<size_t>(granted) / 2,
                                   0xffff + 1024, tx_size);
  }

  ~nfqueue_port() override {
    mnl_socket_close(nl_);
    ::close(wake_);
  }

  receive_status receive(packet_batch_buffer& batch) override {
    batch.clear();
    if (batch.data.size() < slots * slot_size
        || batch.packets.capacity() < slots) {
      error_ = "internal error: packet batch buffer too small";
      return receive_status::failed;
    }
    pollfd fds[2] = {{mnl_socket_get_fd(nl_), POLLIN, 0}, {wake_, POLLIN, 0}};
    for (;;) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR)
          continue;
        error_ = errno_text("poll on the packet queue");
        return receive_status::failed;
      }
      if (fds[1].revents != 0)
        return receive_status::stopped;
      if (fds[0].revents & (POLLERR | POLLNVAL)) {
        error_ = "the packet queue's socket failed";
        return receive_status::failed;
      }
      // The kernel queues each packet as its own netlink datagram: take
      // every ready one in a single system call, straight into the
      // batch's slots (no copy).
      mmsghdr msgs[slots] = {};
      iovec iov[slots];
      for (size_t i = 0; i < slots; ++i) {
        iov[i] = {batch.data.data() + i * slot_size, slot_size};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int n = ::recvmmsg(mnl_socket_get_fd(nl_), msgs, slots, MSG_DONTWAIT,
                         nullptr);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
          continue;
        if (errno == ENOBUFS) { // the kernel dropped messages for us
          overruns_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        error_ = errno_text("receiving from the packet queue");
        return receive_status::failed;
      }
      current_ = &batch;
      for (int i = 0; i < n; ++i) {
        if (mnl_cb_run(iov[i].iov_base, msgs[i].msg_len, 0, portid_,
                       &nfqueue_port::on_message, this)
            < 0) {
          error_ = errno_text("parsing a packet queue message");
          return receive_status::failed;
        }
      }
      if (batch.packets.empty())
        continue; // only control messages this time
      received_.fetch_add(batch.packets.size(), std::memory_order_relaxed);
      batches_.fetch_add(1, std::memory_order_relaxed);
      return receive_status::packets;
    }
  }

  std::error_code send_verdicts(const verdict* v, size_t n) override {
    size_t used = 0;
    for (size_t i = 0; i < n; ++i) {
      // Header, verdict and payload attributes, aligned: 128 is ample.
      size_t need = 128 + size_t{v[i].length};
      if (used + need > tx_limit_) {
        if (auto ec = flush(used))
          return ec;
        used = 0;
      }
      auto* nlh = nfq_nlmsg_put(tx_.data() + used, NFQNL_MSG_VERDICT, queue_);
      int nf = v[i].kind == verdict_kind::drop ? NF_DROP : NF_ACCEPT;
      nfq_nlmsg_verdict_put(nlh, static_cast<int>(v[i].id), nf);
      if (v[i].kind == verdict_kind::pass)
        nfq_nlmsg_verdict_put_mark(nlh, marks_.pass);
      if (v[i].kind == verdict_kind::accept_modified)
        nfq_nlmsg_verdict_put_pkt(nlh, v[i].data, v[i].length);
      used += NLMSG_ALIGN(nlh->nlmsg_len);
    }
    return used > 0 ? flush(used) : std::error_code{};
  }

  std::shared_ptr<packet_batch_buffer> new_batch() const override {
    return std::make_shared<packet_batch_buffer>(slots * slot_size, slots);
  }

  void stop() override {
    uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }

  // The kernel's own count of what it dropped for this queue, where it
  // can be read (a file read: once a second, when the status asks, never
  // per packet); else what the reader saw itself.
  port_counters counters() const override {
    port_counters c;
    c.received = received_.load(std::memory_order_relaxed);
    c.batches = batches_.load(std::memory_order_relaxed);
    c.overruns = overruns_.load(std::memory_order_relaxed);
    std::ifstream in{"/proc/net/netfilter/nfnetlink_queue"};
    std::stringstream text;
    text << in.rdbuf();
    if (auto k = nfqueue_stats_of(text.str(), queue_)) {
      c.overruns = std::max(c.overruns, k->user_dropped);
      c.queue_full = k->queue_dropped;
    }
    return c;
  }

  std::string last_error() const override { return error_; }

private:
public:
  // A slot holds one netlink message: a 64 KiB packet and its attributes.
  static constexpr size_t slot_size = 0xffff + 1024;
  static constexpr size_t slots = 64;

private:
  static constexpr size_t tx_size = 4u << 20; // a batch of verdicts

  std::error_code flush(size_t used) {
    // All verdicts of the batch in one system call.
    if (mnl_socket_sendto(nl_, tx_.data(), used) < 0)
      return {errno, std::generic_category()};
    return {};
  }

  static int on_message(const nlmsghdr* nlh, void* data) {
    auto* self = static_cast<nfqueue_port*>(data);
    nlattr* attr[NFQA_MAX + 1] = {};
    if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == nullptr)
      return MNL_CB_OK;
    auto* hdr = static_cast<nfqnl_msg_packet_hdr*>(
        mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
    uint32_t id = ntohl(hdr->packet_id);
    const void* payload = nullptr;
    uint32_t len = 0;
    if (attr[NFQA_PAYLOAD] != nullptr) {
      payload = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
      len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
    }
    uint32_t skb = attr[NFQA_SKB_INFO] != nullptr
                       ? ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO]))
                       : 0;
    auto& batch = *self->current_;
    captured_packet p;
    p.id = id;
    p.offset = static_cast<uint32_t>(static_cast<const uint8_t*>(payload)
                                     - batch.data.data());
    p.length = len;
    p.checksum_partial = (skb & (NFQA_SKB_CSUMNOTREADY | NFQA_SKB_GSO)) != 0;
    p.gso = (skb & NFQA_SKB_GSO) != 0;
    uint32_t mark = attr[NFQA_MARK] != nullptr
                        ? ntohl(mnl_attr_get_u32(attr[NFQA_MARK]))
                        : 0;
    p.blocked = mark != 0 && mark == self->marks_.block;
    p.from_target
        = (mark & ~net::capture::proxy_index_bits) == self->marks_.target
          || p.blocked;
    if (p.from_target && !p.blocked)
      p.proxy = static_cast<uint8_t>(mark & net::capture::proxy_index_bits);
    batch.packets.push_back(p);
    return MNL_CB_OK;
  }

  mnl_socket* nl_;
  uint32_t portid_;
  uint16_t queue_;
  queue_marks marks_;
  int wake_;
  std::vector<char, uninitialized_allocator<char>> tx_;
  size_t tx_limit_ = tx_size; // bytes per sendto
  packet_batch_buffer* current_ = nullptr;
  std::atomic<uint64_t> received_{0}, batches_{0}, overruns_{0};
  std::string error_;
};

// Sends a config message and waits for the kernel's acknowledgement.
bool configure(mnl_socket* nl, nlmsghdr* nlh, std::string& error,
               const char* what) {
  nlh->nlmsg_flags |= NLM_F_ACK;
  auto seq = static_cast<unsigned>(::time(nullptr));
  nlh->nlmsg_seq = seq;
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
    error = errno_text(what);
    return false;
  }
  char buf[8192]; // MNL_SOCKET_BUFFER_SIZE is computed at run time
  auto n = mnl_socket_recvfrom(nl, buf, sizeof buf);
  if (n < 0
      || mnl_cb_run(buf, static_cast<size_t>(n), seq, mnl_socket_get_portid(nl),
                    nullptr, nullptr)
             < 0) {
    error = errno_text(what);
    return false;
  }
  return true;
}

} // namespace

std::unique_ptr<packet_port> open_nfqueue(uint16_t queue, queue_marks marks,
                                          std::string& error) {
  // Close-on-exec: a program Drover starts never inherits the queue.
  auto* nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (nl == nullptr) {
    error = errno_text("opening a netfilter netlink socket");
    return nullptr;
  }
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    error = errno_text("binding the netfilter netlink socket");
    mnl_socket_close(nl);
    return nullptr;
  }
  char buf[8192]; // MNL_SOCKET_BUFFER_SIZE is computed at run time
  nlmsghdr* nlh = nullptr;
  bool bound = false;
  // EPERM: the queue is still bound to another socket. Seen once, under
  // load, when the engine reopened its own handle 2 s after closing the
  // old one; whatever held the old socket a moment longer, a bounded wait
  // (2 s, on the packet handle's reopen only) is better than Failed.
  for (int attempt = 0; attempt < 40 && !bound; ++attempt) {
    if (attempt > 0)
      ::usleep(50000);
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
    bound = configure(nl, nlh, error, "binding packet queue");
    if (!bound && errno != EPERM)
      break;
  }
  if (!bound) {
    if (error.find("Device or resource busy") != std::string::npos)
      error = "packet queue " + std::to_string(queue)
              + " is in use by another program (is another Drover "
                "running in this network namespace?)";
    mnl_socket_close(nl);
    return nullptr;
  }
  nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
  // Whole GSO segments: without this, 64 KiB writes are cut into MSS-sized
  // packets before queueing and throughput falls about tenfold.
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
  if (!configure(nl, nlh, error, "configuring packet queue")) {
    mnl_socket_close(nl);
    return nullptr;
  }
  nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
  nfq_nlmsg_cfg_put_qmaxlen(nlh, 8192);
  configure(nl, nlh, error, "sizing packet queue"); // best effort
  error.clear();
  int fd = mnl_socket_get_fd(nl);
  int bufsize = 8 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof bufsize);
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    error = errno_text("eventfd");
    mnl_socket_close(nl);
    return nullptr;
  }
  return std::make_unique<nfqueue_port>(nl, queue, marks, wake);
}

namespace {

class raw_injector final : public packet_injector {
public:
  explicit raw_injector(int fd) : fd_(fd) {}
  ~raw_injector() override { ::close(fd_); }

  std::error_code inject(const uint8_t* packet, size_t length) override {
    if (length < 20)
      return std::make_error_code(std::errc::invalid_argument);
    // An IPv4 raw socket: a target's IPv6 is refused by the cgroup hooks
    // before it is sent (the IPv6 queue is their backstop, which drops).
    if ((packet[0] >> 4) != 4)
      return std::make_error_code(std::errc::address_family_not_supported);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    std::memcpy(&to.sin_addr, packet + 16, 4);
    if (::sendto(fd_, packet, length, 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof to)
        < 0)
      return {errno, std::generic_category()};
    return {};
  }

private:
  int fd_;
};

} // namespace

std::unique_ptr<packet_injector> open_raw_injector(uint32_t mark,
                                                   std::string& error) {
  int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) {
    error = errno_text("opening a raw socket (needs CAP_NET_RAW)");
    return nullptr;
  }
  if (mark != 0
      && ::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
    error = errno_text("marking the raw socket (needs CAP_NET_ADMIN)");
    ::close(fd);
    return nullptr;
  }
  return std::make_unique<raw_injector>(fd);
}

} // namespace drover::platform::linux_port
