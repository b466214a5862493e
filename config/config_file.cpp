#include "config/config_file.hpp"

#include <fstream>
#include <optional>
#include <sstream>

#include "actors/platform/files.hpp"
#include "config/parse.hpp"

namespace drover::config {

namespace {

struct read_result {
  config_file::status outcome;
  std::string text;
  std::string error;
};

read_result read_all(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec)))
    return {config_file::status::missing, {}, "no such file"};
  // With the rights of the user it belongs to (the engine may be root).
  std::string error;
  auto text = platform::read_file(path, max_file_bytes,
                                  platform::on_behalf::invoking_user, error);
  if (!text)
    return {config_file::status::unreadable, {}, error};
  return {config_file::status::loaded, std::move(*text), {}};
}

diagnostic file_error(const std::filesystem::path& path, std::string what) {
  diagnostic d;
  d.message = "cannot read the config file: " + std::move(what);
  d.file = path.string();
  return d;
}

// `config check`'s words for each missing program file or folder.
void warn_missing_programs(std::vector<diagnostic>& paths,
                           std::vector<diagnostic>& warnings) {
  for (auto& p : missing_programs(std::move(paths))) {
    p.message = "`" + p.key + "`: " + p.message
                + " does not exist (yet): the rule applies to it once it "
                  "does; is it typed right?";
    warnings.push_back(std::move(p));
  }
}

// What `text` (as read from `path`) holds: the report, and `value` when
// it has no error.
config_file::load_report parse_read(const std::filesystem::path& path,
                                    const read_result& text,
                                    std::optional<settings>& value,
                                    bool look_for_programs = false) {
  config_file::load_report report;
  report.outcome = text.outcome;
  if (text.outcome != config_file::status::loaded) {
    report.errors.push_back(file_error(path, text.error));
    return report;
  }
  auto parsed = parse(text.text, path.string());
  report.errors = std::move(parsed.errors);
  report.warnings = std::move(parsed.warnings);
  if (look_for_programs)
    warn_missing_programs(parsed.program_paths, report.warnings);
  if (parsed.file_version < current_version)
    report.older_version = parsed.file_version;
  if (parsed.ok())
    value = std::move(parsed.value);
  else
    report.outcome = config_file::status::invalid;
  return report;
}

config_file::load_report read_and_parse(const std::filesystem::path& path,
                                        std::optional<settings>& value,
                                        bool look_for_programs = false) {
  return parse_read(path, read_all(path), value, look_for_programs);
}

} // namespace

config_file::config_file(std::filesystem::path path) : path_(std::move(path)) {}

config_file::load_report config_file::load() {
  auto text = read_all(path_);
  if (text.outcome == status::loaded && has_good_ && text.text == last_text_)
    return {status::loaded, {}, {}}; // in force already (our own write, say)
  std::optional<settings> value;
  auto report = parse_read(path_, text, value);
  if (value) {
    current_ = std::move(*value);
    has_good_ = true;
    last_text_ = std::move(text.text);
    last_version_
        = report.older_version != 0 ? report.older_version : current_version;
  }
  return report;
}

std::string config_file::upgrade(std::string& error) {
  if (!has_good_ || last_version_ >= current_version)
    return {};
  auto kept = path_;
  kept += ".v" + std::to_string(last_version_);
  auto ec = platform::write_file_atomically(kept, last_text_,
                                            platform::file_access::owner_only,
                                            platform::on_behalf::invoking_user);
  if (ec) {
    error = "cannot keep the old config file as " + kept.string() + ": "
            + ec.message();
    return {};
  }
  int was = last_version_;
  if (auto failed = save(current_); !failed.empty()) {
    error = failed;
    return {};
  }
  return "the config file was written by an older Drover (version "
         + std::to_string(was) + "); it now has version "
         + std::to_string(current_version) + ", with the same settings ("
         + "the old file is kept as " + kept.string() + ")";
}

config_file::load_report config_file::replace(const std::string& text) {
  config_file::load_report report;
  auto parsed = parse(text, path_.string());
  report.errors = std::move(parsed.errors);
  report.warnings = std::move(parsed.warnings);
  if (!parsed.ok()) {
    report.outcome = status::invalid;
    return report;
  }
  auto ec = platform::write_file_atomically(path_, text,
                                            platform::file_access::owner_only,
                                            platform::on_behalf::invoking_user);
  if (ec) {
    report.outcome = status::unreadable;
    diagnostic d;
    d.message = "cannot write the config file: " + ec.message();
    d.file = path_.string();
    report.errors.push_back(std::move(d));
    return report;
  }
  report.outcome = status::loaded;
  current_ = std::move(*parsed.value);
  has_good_ = true;
  last_text_ = text;
  last_version_ = parsed.file_version;
  return report;
}

std::string config_file::save(const settings& s) {
  auto text = serialize(s);
  auto ec = platform::write_file_atomically(path_, text,
                                            platform::file_access::owner_only,
                                            platform::on_behalf::invoking_user);
  if (ec)
    return "cannot write " + path_.string() + ": " + ec.message();
  current_ = s;
  has_good_ = true;
  last_text_ = std::move(text);
  last_version_ = current_version;
  return {};
}

std::vector<diagnostic> missing_programs(std::vector<diagnostic> paths) {
  std::vector<diagnostic> missing;
  for (auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::path{p.message}, ec) || ec)
      continue; // there, or not ours to see (a folder closed to this user)
    missing.push_back(std::move(p));
  }
  return missing;
}

config_file::load_report check_file(const std::filesystem::path& path) {
  std::optional<settings> unused;
  return read_and_parse(path, unused, true);
}

} // namespace drover::config
