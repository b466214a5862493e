#include "actors/log/logging.hpp"

#include <mutex>
#include <vector>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "actors/log/redact.hpp"

namespace drover::log {

namespace {

constexpr auto pattern = "[%Y-%m-%d %H:%M:%S.%e] [%l] [%n] %v";

// The one sink every logger writes to. It removes secrets from each line and
// forwards it to the current file/console sinks, which init() can replace
// without touching the loggers that components already hold.
class redacting_sink final : public spdlog::sinks::sink {
public:
  void log(const spdlog::details::log_msg& msg) override {
    std::string text{msg.payload.data(), msg.payload.size()};
    std::lock_guard<std::mutex> guard{mutex_};
    if (redact_secrets(text)) {
      auto copy = msg;
      copy.payload = text;
      forward(copy);
    } else {
      forward(msg);
    }
  }

  void flush() override {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& s : targets_)
      s->flush();
  }

  // The targets keep the engine's pattern: spdlog::initialize_logger pushes
  // its global default formatter into every new logger's sinks, which would
  // otherwise drop the component name's position and the date format.
  void set_pattern(const std::string&) override {}

  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

  void replace_targets(std::vector<spdlog::sink_ptr> targets) {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& s : targets_)
      s->flush();
    targets_ = std::move(targets);
  }

private:
  void forward(const spdlog::details::log_msg& msg) {
    for (auto& s : targets_)
      if (s->should_log(msg.level))
        s->log(msg);
  }

  std::mutex mutex_;
  std::vector<spdlog::sink_ptr> targets_;
};

struct log_state {
  std::mutex mutex;
  std::shared_ptr<redacting_sink> sink = std::make_shared<redacting_sink>();
  std::filesystem::path file;
  log_options options; // as init() last set them up (set_limits again)
};

log_state& state() {
  static log_state s;
  return s;
}

} // namespace

spdlog::level::level_enum to_spdlog(config::log_level level) {
  using config::log_level;
  switch (level) {
    case log_level::trace:
      return spdlog::level::trace;
    case log_level::debug:
      return spdlog::level::debug;
    case log_level::info:
      return spdlog::level::info;
    case log_level::warn:
      return spdlog::level::warn;
    case log_level::error:
      return spdlog::level::err;
    case log_level::critical:
      return spdlog::level::critical;
    case log_level::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

void set_limits(std::size_t max_file_bytes, std::size_t backups) {
  log_options again;
  {
    auto& st = state();
    std::lock_guard<std::mutex> guard{st.mutex};
    if (st.options.dir.empty()
        || (st.options.max_file_bytes == max_file_bytes
            && st.options.backups == backups))
      return;
    again = st.options;
  }
  again.max_file_bytes = max_file_bytes;
  again.backups = backups;
  init(again);
}

void init(const log_options& opts) {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mutex};
  st.options = opts;
  std::vector<spdlog::sink_ptr> targets;
  if (!opts.dir.empty()) {
    std::filesystem::create_directories(opts.dir);
    st.file = opts.dir / "drover.log";
    targets.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        st.file.string(), opts.max_file_bytes, opts.backups));
    // The log says which programs run and where they connect: the owner's
    // only. (New files are, by the engine's file mode mask; older ones made
    // before it are narrowed here.)
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator{opts.dir, ec})
      if (e.is_regular_file(ec))
        std::filesystem::permissions(e.path(),
                                     std::filesystem::perms::group_all
                                         | std::filesystem::perms::others_all,
                                     std::filesystem::perm_options::remove, ec);
  }
  if (opts.console)
    targets.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  for (auto& t : targets)
    t->set_pattern(pattern);
  st.sink->replace_targets(std::move(targets));
  spdlog::set_level(to_spdlog(opts.level));
  spdlog::flush_on(spdlog::level::warn);
}

std::shared_ptr<spdlog::logger> get(std::string_view component) {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mutex};
  std::string name{component};
  if (auto existing = spdlog::get(name))
    return existing;
  auto logger = std::make_shared<spdlog::logger>(name, st.sink);
  spdlog::initialize_logger(logger); // registers it at the global level
  return logger;
}

void set_level(config::log_level level) {
  {
    auto& st = state();
    std::lock_guard<std::mutex> guard{st.mutex};
    st.options.level = level; // kept should set_limits set the log up again
  }
  spdlog::set_level(to_spdlog(level));
}

void flush() {
  state().sink->flush();
}

void shutdown() {
  auto& st = state();
  st.sink->flush();
  spdlog::drop_all();
  st.sink->replace_targets({});
}

std::filesystem::path log_file() {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mutex};
  return st.file;
}

} // namespace drover::log
