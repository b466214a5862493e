#include "app/report.hpp"

#include <ctime>
#include <fstream>
#include <sstream>

#include "actors/platform/files.hpp"
#include "actors/platform/process.hpp"
#include "app/engine_client.hpp"
#include "app/zip_writer.hpp"
#include "config/parse.hpp"

namespace drover::cli {

namespace {

constexpr size_t log_tail = 1u << 20; // the last MiB of the log

// The last `limit` bytes of `file`, from a line's start; or why not.
std::string tail_of(const std::filesystem::path& file, size_t limit) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return "(cannot read " + file.string()
           + ": it is not there, or only its owner may read it)\n";
  in.seekg(0, std::ios::end);
  auto size = static_cast<size_t>(in.tellg());
  auto from = size > limit ? size - limit : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string text(size - from, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (from > 0) {
    auto line = text.find('\n');
    text.erase(0, line == std::string::npos ? 0 : line + 1);
  }
  return text;
}

// "drover-report-20261204-193001.zip", and the archive's MS-DOS stamp.
std::string stamp(uint16_t& dos_time, uint16_t& dos_date) {
  auto t = platform::local_time(std::time(nullptr));
  dos_time = static_cast<uint16_t>((t.tm_hour << 11) | (t.tm_min << 5)
                                   | (t.tm_sec / 2));
  dos_date = static_cast<uint16_t>(((t.tm_year - 80) << 9)
                                   | ((t.tm_mon + 1) << 5) | t.tm_mday);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", &t);
  return text;
}

// A JSON field's string value in `json` (the status's "log" path).
std::string json_string(const std::string& json, const std::string& key) {
  auto at = json.find("\"" + key + "\":\"");
  if (at == std::string::npos)
    return {};
  at += key.size() + 4;
  std::string out;
  for (; at < json.size() && json[at] != '"'; ++at) {
    if (json[at] == '\\' && at + 1 < json.size())
      ++at;
    out += json[at];
  }
  return out;
}

} // namespace

std::string config_for_report(const std::string& text) {
  auto parsed = config::parse(text, "config.toml");
  if (!parsed.ok())
    return "# The config file has errors, so it is not included (it might "
           "hold a password where the reader does not expect one):\n# "
           + config::to_string(parsed.errors);
  auto s = *parsed.value;
  for (auto& p : s.proxies) {
    if (!p.login.empty())
      p.login = "(hidden)";
    if (!p.password.empty())
      p.password = "(hidden)";
  }
  return config::serialize(s);
}

int write_report(const report_options& o, std::ostream& out,
                 std::ostream& err) {
  std::vector<zip_entry> entries;
  entries.push_back({"versions.txt", o.version + "\n"});
  bool stuck = false;
  auto status = quiet_answer("status json", &stuck);
  bool running = status && status->rfind("{", 0) == 0;
  // A stuck engine is what a report is often for: said, and not asked
  // again (each question would wait as long).
  entries.push_back(
      {"status.json",
       running ? *status
               : std::string{stuck ? "{\"running\":true,\"answered\":false}\n"
                                   : "{\"running\":false}\n"}});
  if (stuck)
    out << "Drover is running but did not answer: the report says so, with "
           "its log\n";
  // The config: the engine's (it hides the password; the login goes here),
  // else the file, if this user may read it.
  std::string config_text;
  if (auto answer = running ? quiet_answer("config get") : std::nullopt;
      answer && answer->rfind("error\n", 0) != 0) {
    config_text = *answer;
  } else {
    std::string error;
    auto text = platform::read_file(o.config_path, 1u << 20,
                                    platform::on_behalf::engine, error);
    config_text = text ? *text : std::string{};
    if (!text)
      entries.push_back(
          {"config.toml.txt",
           "cannot read " + o.config_path.string() + ": " + error + "\n"});
  }
  if (!config_text.empty())
    entries.push_back({"config.toml", config_for_report(config_text)});
  if (running && o.check) {
    out << "Checking the proxy (up to a minute)...\n" << std::flush;
    auto check = quiet_answer("check");
    entries.push_back(
        {"check.json", check ? *check : std::string{"(no answer)\n"}});
  }
  auto log = running ? json_string(*status, "log") : std::string{};
  std::filesystem::path log_file
      = log.empty() ? o.log_dir / "drover.log" : std::filesystem::path{log};
  entries.push_back({"drover.log", tail_of(log_file, log_tail)});
  uint16_t dos_time = 0, dos_date = 0x21;
  auto when = stamp(dos_time, dos_date);
  auto archive = o.archive.empty()
                     ? std::filesystem::path{"drover-report-" + when + ".zip"}
                     : o.archive;
  std::ofstream file{archive, std::ios::binary | std::ios::trunc};
  auto bytes = zip_archive(entries, dos_time, dos_date);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file) {
    err << "drover report: cannot write " << archive.string() << '\n';
    return 1;
  }
  out << "Wrote " << std::filesystem::absolute(archive).string() << " (";
  for (size_t i = 0; i < entries.size(); ++i)
    out << (i ? ", " : "") << entries[i].name;
  out << ")" << (running ? "" : "; Drover is not running, so it has no status")
      << ".\nLogins and passwords are not in it; look it over before you "
         "attach it to a bug report.\n";
  return 0;
}

} // namespace drover::cli
