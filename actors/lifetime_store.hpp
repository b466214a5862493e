#pragma once

// The lifetime totals' file (stats.json in the engine's state folder):
// read when the engine starts, written every 60 s while something was
// counted, when the capture stops and when the engine ends. A file that
// cannot be read is said, set aside (stats.json.damaged) and counting
// starts again; one that cannot be written is said once, and retried.

#include <chrono>
#include <filesystem>
#include <string>

#include "messages/lifetime_totals.hpp"
#include "messages/types.hpp"

namespace drover {

class lifetime_store {
public:
  using clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds save_every{60};

  /// Reads `file` (empty: nothing is kept, as in the deterministic
  /// tests); `today` ("2026-12-04") starts a new count. `said`: what to
  /// tell the user about the file, or empty.
  void open(std::filesystem::path file, const std::string& today,
            std::string& said);

  /// The running parts' counters (messages/lifetime_totals.hpp).
  void observe(const stats_snapshot& s) {
    counter_.observe(s.bytes_in, s.bytes_out);
  }
  void new_run() { counter_.new_run(); }

  const lifetime_totals& totals() const { return counter_.totals(); }

  /// Writes the file when something was counted and `save_every` passed
  /// since the last write (or at once with `now_anyway`). `said`: why it
  /// could not, the first time.
  void save(clock::time_point now, bool now_anyway, std::string& said);

private:
  std::filesystem::path file_;
  lifetime_counter counter_;
  clock::time_point saved_at_{};
  bool failing_ = false;
};

/// Today's date in the local calendar, "YYYY-MM-DD".
std::string today_text();

} // namespace drover
