#include "actors/lifetime_store.hpp"

#include <ctime>

#include "actors/platform/files.hpp"
#include "actors/platform/process.hpp"

namespace drover {

void lifetime_store::open(std::filesystem::path file, const std::string& today,
                          std::string& said) {
  file_ = std::move(file);
  lifetime_totals start;
  start.since = today;
  if (file_.empty()) {
    counter_ = lifetime_counter{start};
    return;
  }
  std::error_code exists_error;
  if (std::filesystem::exists(file_, exists_error)) {
    std::string error;
    auto text
        = platform::read_file(file_, 4096, platform::on_behalf::engine, error);
    std::optional<lifetime_totals> read;
    if (text)
      read = lifetime_from_json(*text, error);
    if (read) {
      if (read->since.empty())
        read->since = today;
      start = *read;
    } else {
      // Kept for whoever wants to look; counting starts again.
      auto aside = file_;
      aside += ".damaged";
      std::error_code ec;
      std::filesystem::rename(file_, aside, ec);
      said = "the lifetime traffic totals in " + file_.string()
             + " could not be read (" + error + "); counting starts again"
             + (ec ? std::string{}
                   : " (the old file is " + aside.string() + ")");
    }
  }
  counter_ = lifetime_counter{start};
}

void lifetime_store::save(clock::time_point now, bool now_anyway,
                          std::string& said) {
  if (file_.empty() || !counter_.changed())
    return;
  if (!now_anyway && now - saved_at_ < save_every)
    return;
  saved_at_ = now;
  auto ec = platform::write_file_atomically(file_, to_json(counter_.totals()),
                                            platform::file_access::normal);
  if (ec) {
    if (!failing_)
      said = "cannot keep the lifetime traffic totals in " + file_.string()
             + ": " + ec.message();
    failing_ = true;
    return;
  }
  failing_ = false;
  counter_.mark_saved();
}

std::string today_text() {
  auto local = platform::local_time(std::time(nullptr));
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &local);
  return text;
}

} // namespace drover
