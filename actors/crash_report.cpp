#include "actors/crash_report.hpp"

#include <chrono>
#include <deque>
#include <fstream>

#include "actors/log/logging.hpp"
#include "actors/log/redact.hpp"
#include "actors/log/trace.hpp"
#include "actors/platform/files.hpp"
#include "actors/platform/process.hpp"

namespace drover {

namespace {

constexpr size_t tail_lines = 100;

std::string tail(const std::filesystem::path& file) {
  if (file.empty())
    return "";
  std::ifstream in{file};
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(std::move(line));
    if (last.size() > tail_lines)
      last.pop_front();
  }
  std::string out;
  for (auto& l : last)
    out += "  " + l + "\n";
  return out;
}

std::string wall_time(caf::timestamp t) {
  return trace::format_timestamp(std::chrono::system_clock::time_point{
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          t.time_since_epoch())});
}

} // namespace

crash_report assemble_crash_report(panic_details panic,
                                   const std::string& described,
                                   const std::deque<engine_event>& recent) {
  crash_report r;
  r.panic = std::move(panic);
  if (r.panic.actor.empty())
    r.panic = {"an engine part", described, "?"};
  r.version = std::string{DROVER_VERSION} + " (" + platform::system_name()
              + ", CAF 0.17.6)";
  r.events.assign(recent.begin(), recent.end());
  log::flush();
  r.log_file = log::log_file();
  r.trace = trace::recent();
  return r;
}

std::filesystem::path crash_report_dir(const std::filesystem::path& configured,
                                       const std::filesystem::path& log_file) {
  if (!configured.empty())
    return configured;
  return log_file.empty() ? platform::default_log_dir()
                          : log_file.parent_path();
}

std::string render(const crash_report& r) {
  auto now = std::chrono::system_clock::now();
  std::string o = "Drover crash report\n\n";
  o += "time:           " + trace::format_timestamp(now) + "\n";
  o += "version:        " + r.version + "\n";
  o += "actor:          " + r.panic.actor + "\n";
  o += "exception:      " + r.panic.what + "\n";
  o += "while handling: " + r.panic.handling + "\n\n";
  o += "An exception escaped one of Drover's engine parts, which is a bug. "
       "The engine stopped (Failed) and refuses the captured programs' new "
       "connections; choose Retry to start it again, or Stop. Please send "
       "this file with your report; it holds no password.\n";
  o += "\nRecent engine events:\n";
  for (auto& e : r.events)
    o += "  " + wall_time(e.time) + "  " + label(e) + ": " + e.reason + "\n";
  if (auto log_tail = tail(r.log_file); !log_tail.empty())
    o += "\nLast lines of " + r.log_file.string() + ":\n" + log_tail;
  if (!r.trace.empty()) {
    o += "\nLast trace records:\n";
    for (auto& line : r.trace)
      o += "  " + line + "\n";
  }
  log::redact_secrets(o);
  return o;
}

std::filesystem::path write_crash_report(const std::filesystem::path& dir,
                                         const crash_report& r,
                                         std::string& error) {
  auto stamp = trace::format_timestamp(std::chrono::system_clock::now());
  // "2026-11-22T07:10:00.123Z" -> "20261122-071000"
  std::string name = "crash-";
  for (char c : stamp.substr(0, 19))
    if (c >= '0' && c <= '9')
      name += c;
  name.insert(14, "-");
  auto path = dir / (name + ".txt");
  if (auto ec = platform::write_file_atomically(
          path, render(r), platform::file_access::owner_only)) {
    error = "cannot write the crash report " + path.string() + ": "
            + ec.message();
    return {};
  }
  return path;
}

std::string report_panic(panic_details panic, const std::string& described,
                         const std::deque<engine_event>& recent,
                         const std::filesystem::path& dir) {
  auto r = assemble_crash_report(std::move(panic), described, recent);
  std::string error;
  auto path = write_crash_report(crash_report_dir(dir, r.log_file), r, error);
  if (path.empty())
    log::get("supervisor")->error("{}", error);
  return "an engine part failed: " + r.panic.actor + " (" + r.panic.what + "); "
         + (path.empty() ? error : "a crash report is in " + path.string())
         + "; choose Retry to start again";
}

} // namespace drover
