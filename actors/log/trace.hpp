#pragma once

// The actor trace log: one JSON object per line for every traced actor
// message or decision, with stable fields `ts`, `actor`, `event` followed by
// the event's own fields. Credentials are redacted: by field name (see
// is_credential_field) and by value (see set_secrets).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace drover::trace {

/// One field of a trace record: a key and a number, boolean or string.
struct field {
  enum class kind { signed_int, unsigned_int, real, boolean, text };

  template<class T, class = std::enable_if_t<
                        std::is_integral_v<T> && !std::is_same_v<T, bool>>>
  field(std::string_view k, T v) : key(k) {
    if constexpr (std::is_signed_v<T>) {
      type = kind::signed_int;
      i = v;
    } else {
      type = kind::unsigned_int;
      u = v;
    }
  }
  field(std::string_view k, bool v) : key(k), type(kind::boolean), b(v) {}
  field(std::string_view k, double v) : key(k), type(kind::real), d(v) {}
  field(std::string_view k, std::string_view v)
      : key(k), type(kind::text), s(v) {}
  field(std::string_view k, const char* v) : field(k, std::string_view{v}) {}
  field(std::string_view k, const std::string& v)
      : field(k, std::string_view{v}) {}

  std::string_view key;
  kind type;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  bool b = false;
  std::string_view s;
};

using fields = std::initializer_list<field>;

struct trace_options {
  std::filesystem::path dir; // the trace is dir/trace.jsonl
  std::size_t max_file_bytes = 10u << 20;
  std::size_t backups = 3;
};

/// Opens (or reopens) the trace file. Tracing stays off until enable(true).
void open(const trace_options& opts);

/// The trace file's size and how many rotated files are kept, applied to
/// the open trace (a saved config's ui.log_max_mb, ui.log_backups).
void set_limits(std::size_t max_file_bytes, std::size_t backups);

/// Flushes and closes the trace file; record() does nothing afterwards.
void close();

/// Switches tracing on or off at run time (ui.log_level = "trace", --trace,
/// the tray's Trace log item).
void enable(bool on);

/// Cheap enough to guard every record() call.
bool enabled();

/// Writes one record if tracing is on; keeps the last `recent_records` in
/// memory either way (for crash reports).
void record(std::string_view actor, std::string_view event,
            fields event_fields = {});

constexpr std::size_t recent_records = 200;

/// The last records, oldest first, tracing on or off.
std::vector<std::string> recent();

/// Flushes the trace file.
void flush();

/// The trace file's path, empty before open().
std::filesystem::path trace_file();

/// Renders one record as a JSON line (no newline), redacting credentials.
std::string format_record(std::chrono::system_clock::time_point ts,
                          std::string_view actor, std::string_view event,
                          fields event_fields);

/// RFC 3339 UTC with milliseconds: "2026-11-22T03:12:45.123Z".
std::string format_timestamp(std::chrono::system_clock::time_point ts);

} // namespace drover::trace
