#include "actors/log/trace.hpp"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>

#include <spdlog/logger.h>
#include <spdlog/sinks/rotating_file_sink.h>

#include "actors/log/json.hpp"
#include "actors/log/redact.hpp"

namespace drover::trace {

namespace {

std::atomic<bool> tracing{false};

struct trace_state {
  std::mutex mutex;
  std::shared_ptr<spdlog::logger> logger;
  std::filesystem::path file;
  std::deque<std::string> recent; // the last recent_records, tracing or not
};

trace_state& state() {
  static trace_state s;
  return s;
}

void append_json_string(std::string& out, std::string_view s) {
  json::append_string(out, s);
}

void append_value(std::string& out, const field& f) {
  if (log::is_credential_field(f.key)) {
    append_json_string(out, log::redacted);
    return;
  }
  switch (f.type) {
    case field::kind::signed_int:
      out += std::to_string(f.i);
      break;
    case field::kind::unsigned_int:
      out += std::to_string(f.u);
      break;
    case field::kind::real:
      if (std::isfinite(f.d)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", f.d);
        out += buf;
      } else {
        out += "null"; // JSON has no NaN or infinity
      }
      break;
    case field::kind::boolean:
      out += f.b ? "true" : "false";
      break;
    case field::kind::text: {
      std::string text{f.s};
      log::redact_secrets(text);
      append_json_string(out, text);
      break;
    }
  }
}

} // namespace

std::string format_timestamp(std::chrono::system_clock::time_point ts) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(ts.time_since_epoch()).count();
  auto days = ms >= 0 ? ms / 86'400'000 : (ms - 86'399'999) / 86'400'000;
  auto ms_of_day = ms - days * 86'400'000;
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
  auto z = days + 719468;
  auto era = (z >= 0 ? z : z - 146096) / 146097;
  auto doe = z - era * 146097;
  auto yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  auto y = yoe + era * 400;
  auto doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  auto mp = (5 * doy + 2) / 153;
  auto d = doy - (153 * mp + 2) / 5 + 1;
  auto m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2)
    ++y;
  char buf[96]; // room for any long long the compiler cannot rule out
  std::snprintf(
      buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
      static_cast<long long>(y), static_cast<long long>(m),
      static_cast<long long>(d), static_cast<long long>(ms_of_day / 3'600'000),
      static_cast<long long>(ms_of_day / 60'000 % 60),
      static_cast<long long>(ms_of_day / 1000 % 60),
      static_cast<long long>(ms_of_day % 1000));
  return buf;
}

std::string format_record(std::chrono::system_clock::time_point ts,
                          std::string_view actor, std::string_view event,
                          fields event_fields) {
  std::string out;
  out.reserve(96);
  out += "{\"ts\":";
  append_json_string(out, format_timestamp(ts));
  out += ",\"actor\":";
  append_json_string(out, actor);
  out += ",\"event\":";
  append_json_string(out, event);
  for (auto& f : event_fields) {
    out += ',';
    append_json_string(out, f.key);
    out += ':';
    append_value(out, f);
  }
  out += '}';
  return out;
}

void open(const trace_options& opts) {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mutex};
  if (st.logger)
    st.logger->flush();
  std::filesystem::create_directories(opts.dir);
  st.file = opts.dir / "trace.jsonl";
  auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
      st.file.string(), opts.max_file_bytes, opts.backups);
  // Not registered with spdlog: the engine log's level must not touch it.
  st.logger = std::make_shared<spdlog::logger>("trace", std::move(sink));
  st.logger->set_pattern("%v");
  st.logger->set_level(spdlog::level::trace);
  st.logger->flush_on(spdlog::level::trace);
}

void set_limits(std::size_t max_file_bytes, std::size_t backups) {
  std::filesystem::path dir;
  {
    auto& st = state();
    std::lock_guard<std::mutex> guard{st.mutex};
    if (!st.logger || st.file.empty())
      return;
    dir = st.file.parent_path();
  }
  open({dir, max_file_bytes, backups});
}

void close() {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mutex};
  if (st.logger)
    st.logger->flush();
  st.logger.reset();
}

void enable(bool on) {
  tracing.store(on, std::memory_order_relaxed);
}

bool enabled() {
  return tracing.load(std::memory_order_relaxed);
}

void record(std::string_view actor, std::string_view event,
            fields event_fields) {
  // Always kept in memory (a crash report shows what led to it); written
  // to the file only while tracing is on. Records are per decision or per
  // flow, never per packet.
  auto line = format_record(std::chrono::system_clock::now(), actor, event,
                            event_fields);
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mutex};
  if (enabled() && st.logger)
    st.logger->info(line);
  st.recent.push_back(std::move(line));
  if (st.recent.size() > recent_records)
    st.recent.pop_front();
}

std::vector<std::string> recent() {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mutex};
  return {st.recent.begin(), st.recent.end()};
}

void flush() {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mutex};
  if (st.logger)
    st.logger->flush();
}

std::filesystem::path trace_file() {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mutex};
  return st.file;
}

} // namespace drover::trace
