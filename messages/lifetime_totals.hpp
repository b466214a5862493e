#pragma once

// The bytes Drover carried over its whole life (seed 000: lifetime stats),
// kept across restarts in stats.json. Pure: the supervisor feeds it each
// counter sample of the running flow-manager, whose counters start again
// at zero with every new set of parts; the file's text is read and
// written here, and a damaged file says what is wrong instead of counting
// from a guess.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace drover {

struct lifetime_totals {
  uint64_t bytes_in = 0;  // proxy -> applications
  uint64_t bytes_out = 0; // applications -> proxy
  std::string since;      // "2026-12-04": the day counting began
  bool operator==(const lifetime_totals& o) const {
    return bytes_in == o.bytes_in && bytes_out == o.bytes_out
           && since == o.since;
  }
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, lifetime_totals& x) {
  return f(x.bytes_in, x.bytes_out, x.since);
}

class lifetime_counter {
public:
  lifetime_counter() = default;
  explicit lifetime_counter(lifetime_totals from) : totals_(std::move(from)) {}

  /// New parts: their counters start at zero.
  void new_run() {
    seen_in_ = 0;
    seen_out_ = 0;
  }
  /// A sample of the running parts' counters. A smaller value than the
  /// last is a new run the caller did not announce: counted from zero.
  void observe(uint64_t in, uint64_t out);

  const lifetime_totals& totals() const { return totals_; }
  /// Whether anything was counted since the last mark_saved().
  bool changed() const { return changed_; }
  void mark_saved() { changed_ = false; }

private:
  lifetime_totals totals_;
  uint64_t seen_in_ = 0;
  uint64_t seen_out_ = 0;
  bool changed_ = false;
};

/// stats.json's text: {"bytes_in":N,"bytes_out":N,"since":"YYYY-MM-DD"}.
std::string to_json(const lifetime_totals& t);

/// Reads stats.json's text; nothing, with `error` saying what is wrong,
/// when it is not what to_json() writes (numbers beyond 2^64, a missing
/// field, anything else).
std::optional<lifetime_totals> lifetime_from_json(std::string_view text,
                                                  std::string& error);

} // namespace drover
