#include "actors/platform/files.hpp"

#include <cstdlib>
#include <string>

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

namespace drover::platform {

namespace {

std::error_code last_error() {
  return {static_cast<int>(GetLastError()), std::system_category()};
}

std::filesystem::path known_folder(const wchar_t* var,
                                   const wchar_t* fallback) {
  if (const wchar_t* v = _wgetenv(var); v != nullptr && v[0] != 0)
    return v;
  return fallback;
}

} // namespace

std::filesystem::path temporary_path_for(const std::filesystem::path& path) {
  auto tmp = path;
  tmp += ".drover-tmp";
  return tmp;
}

std::error_code write_file_atomically(const std::filesystem::path& path,
                                      std::string_view content, file_access,
                                      const std::function<void()>& before) {
  // %APPDATA% is already private to the user; no ACL change is needed.
  std::error_code ec;
  if (!path.parent_path().empty())
    std::filesystem::create_directories(path.parent_path(), ec);
  if (ec)
    return ec;
  auto tmp = temporary_path_for(path);
  HANDLE h = CreateFileW(tmp.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE)
    return last_error();
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    DWORD chunk = left > 1u << 30 ? 1u << 30 : static_cast<DWORD>(left);
    DWORD written = 0;
    if (!WriteFile(h, p, chunk, &written, nullptr) || written == 0) {
      ec = last_error();
      CloseHandle(h);
      DeleteFileW(tmp.c_str());
      return ec;
    }
    p += written;
    left -= written;
  }
  if (!FlushFileBuffers(h)) {
    ec = last_error();
    CloseHandle(h);
    DeleteFileW(tmp.c_str());
    return ec;
  }
  CloseHandle(h);
  if (before)
    before();
  if (!MoveFileExW(tmp.c_str(), path.c_str(),
                   MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    ec = last_error();
    DeleteFileW(tmp.c_str());
    return ec;
  }
  return {};
}

std::filesystem::path current_executable() {
  wchar_t buf[32768];
  auto n = GetModuleFileNameW(nullptr, buf, 32768);
  return n == 0 || n >= 32768 ? std::filesystem::path{L"drover.exe"}
                              : std::filesystem::path{std::wstring{buf, n}};
}

std::filesystem::path user_runtime_dir() {
  auto dir = known_folder(L"LOCALAPPDATA", L"C:\\") / "Drover";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return dir;
}

std::filesystem::path default_config_path() {
  return known_folder(L"APPDATA", L"C:\\") / "Drover" / "config.toml";
}

std::filesystem::path default_log_dir() {
  return known_folder(L"PROGRAMDATA", L"C:\\ProgramData") / "Drover" / "logs";
}

} // namespace drover::platform
