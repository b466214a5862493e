#include "actors/platform/capture.hpp"

#include "actors/platform/linux/nfqueue.hpp"
#include "actors/platform/linux/system.hpp"

namespace drover::platform {

namespace {

// Per network namespace, so these never collide between instances in
// different namespaces (queues and chains are per namespace already).
constexpr uint16_t queue_number = 7042;
constexpr uint32_t injected_mark = 0x44520001; // "DR"
constexpr const char* chain = "DROVER";

struct linux_kept_targets final : kept_targets {
  std::unique_ptr<linux_port::target_cgroup> group; // released when dropped
};

class linux_capture final : public capture_session {
public:
  std::unique_ptr<linux_port::target_cgroup> group;
  std::unique_ptr<packet_injector> raw;
  std::unique_ptr<packet_port> queue;
  std::unique_ptr<linux_port::installed_rules> rules;

  ~linux_capture() override {
    // Rules first: then nothing new is queued while the queue closes.
    rules.reset();
    queue.reset();
    raw.reset();
    group.reset();
  }

  packet_port& port() override { return *queue; }
  packet_injector& injector() override { return *raw; }

  bool add_target(uint32_t pid, std::string& error) override {
    return group->add(static_cast<pid_t>(pid), error);
  }

  bool is_target(uint32_t pid) const override {
    return group->contains(static_cast<pid_t>(pid));
  }

  void forget_target(uint32_t) override {}

  std::shared_ptr<kept_targets> keep_targets() override {
    auto kept = std::make_shared<linux_kept_targets>();
    kept->group = std::move(group);
    return kept;
  }

  long spawn_target(const std::vector<std::string>& argv,
                    std::string& error) override {
    return linux_port::spawn_in_cgroup(argv, *group, error);
  }

  std::string description() const override {
    return "NFQUEUE " + std::to_string(queue_number) + ", cgroup "
           + group->rule_path() + ", iptables raw chain " + chain;
  }
};

} // namespace

std::string capture_repair_hint() {
  return "Drover needs iptables with the cgroup match and the kernel's "
         "packet queue: install iptables (apt install iptables) and check "
         "that `modprobe nfnetlink_queue xt_cgroup` works";
}

capture_result open_capture(const capture_options& opts) {
  capture_result r;
  if (auto missing = linux_port::missing_privileges(); !missing.empty()) {
    r.failure = capture_failure::not_permitted;
    r.error = missing;
    return r;
  }
  auto s = std::make_shared<linux_capture>();
  if (auto* kept = dynamic_cast<linux_kept_targets*>(opts.targets.get()))
    s->group = std::move(kept->group);
  if (!s->group)
    s->group = linux_port::target_cgroup::open(
        "drover-" + linux_port::netns_id(), r.error);
  if (!s->group) {
    r.failure = capture_failure::unavailable;
    return r;
  }
  s->raw = linux_port::open_raw_injector(injected_mark, r.error);
  if (!s->raw) {
    r.failure = capture_failure::not_permitted;
    return r;
  }
  s->queue = linux_port::open_nfqueue(queue_number, r.error);
  if (!s->queue) {
    r.failure = capture_failure::unavailable;
    return r;
  }
  net::capture::linux_params p;
  p.chain = chain;
  p.cgroup_path = s->group->rule_path();
  p.queue_number = queue_number;
  p.listener = opts.listener;
  p.injected_mark = injected_mark;
  p.skip = opts.skip;
  s->rules = linux_port::installed_rules::install(p, r.error);
  if (!s->rules) {
    r.failure = capture_failure::unavailable;
    return r;
  }
  r.session = std::move(s);
  return r;
}

} // namespace drover::platform
