#include "actors/platform/startup_entry.hpp"

#include <vector>

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

namespace drover::platform::startup {

namespace {

constexpr const wchar_t* run_key
    = L"Software\\Microsoft\\Windows\\CurrentVersion\\Run";
constexpr const wchar_t* approved_key = L"Software\\Microsoft\\Windows\\"
                                        L"CurrentVersion\\Explorer\\"
                                        L"StartupApproved\\Run";
constexpr const wchar_t* value_name = L"Drover";

std::wstring read_run_value() {
  wchar_t buf[2048];
  DWORD size = sizeof buf;
  if (RegGetValueW(HKEY_CURRENT_USER, run_key, value_name, RRF_RT_REG_SZ,
                   nullptr, buf, &size)
      != ERROR_SUCCESS)
    return {};
  return buf;
}

bool read_approved() {
  uint8_t data[64];
  DWORD size = sizeof data;
  if (RegGetValueW(HKEY_CURRENT_USER, approved_key, value_name,
                   RRF_RT_REG_BINARY, nullptr, data, &size)
      != ERROR_SUCCESS)
    return true; // no mark: on
  return approved(data, size);
}

std::string error_text(const char* what, LSTATUS code) {
  return std::string{what} + " (Windows error " + std::to_string(code) + ")";
}

} // namespace

bool enabled() {
  return !read_run_value().empty() && read_approved();
}

std::string set_enabled(bool on, const std::wstring& program) {
  if (!on) {
    auto rc = RegDeleteKeyValueW(HKEY_CURRENT_USER, run_key, value_name);
    if (rc != ERROR_SUCCESS && rc != ERROR_FILE_NOT_FOUND)
      return error_text("cannot remove the start-at-login entry", rc);
    return {};
  }
  auto value = run_value(program);
  auto rc = RegSetKeyValueW(
      HKEY_CURRENT_USER, run_key, value_name, REG_SZ, value.c_str(),
      static_cast<DWORD>((value.size() + 1) * sizeof(wchar_t)));
  if (rc != ERROR_SUCCESS)
    return error_text("cannot write the start-at-login entry", rc);
  // Explorer's switch back on: 02 followed by zeros.
  const uint8_t on_mark[12] = {2};
  rc = RegSetKeyValueW(HKEY_CURRENT_USER, approved_key, value_name, REG_BINARY,
                       on_mark, sizeof on_mark);
  if (rc != ERROR_SUCCESS)
    return error_text("cannot turn the start-at-login entry on", rc);
  return {};
}

bool heal(const std::wstring& program) {
  auto value = read_run_value();
  if (value.empty() || program_of(value) == program)
    return false;
  auto v = run_value(program);
  return RegSetKeyValueW(HKEY_CURRENT_USER, run_key, value_name, REG_SZ,
                         v.c_str(),
                         static_cast<DWORD>((v.size() + 1) * sizeof(wchar_t)))
         == ERROR_SUCCESS;
}

} // namespace drover::platform::startup
