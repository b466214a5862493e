#include "actors/platform/files.hpp"

#include <cstdlib>
#include <cwchar>
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

namespace {

std::wstring temporary_name(const std::filesystem::path& path) {
  LARGE_INTEGER now{};
  QueryPerformanceCounter(&now);
  wchar_t hex[17];
  swprintf(
      hex, 17, L"%016llx",
      static_cast<unsigned long long>(now.QuadPart)
          ^ (static_cast<unsigned long long>(GetCurrentProcessId()) << 40));
  return L"." + path.filename().wstring() + L".drover-" + hex;
}

bool is_temporary_of(const std::wstring& name,
                     const std::filesystem::path& path) {
  auto prefix = L"." + path.filename().wstring() + L".drover-";
  return name.size() == prefix.size() + 16 && name.rfind(prefix, 0) == 0;
}

} // namespace

std::error_code write_file_atomically(const std::filesystem::path& path,
                                      std::string_view content, file_access,
                                      on_behalf,
                                      const std::function<void()>& before) {
  // %APPDATA% is already private to the user; no ACL change is needed.
  std::error_code ec;
  if (!path.parent_path().empty())
    std::filesystem::create_directories(path.parent_path(), ec);
  if (ec)
    return ec;
  for (auto& e : std::filesystem::directory_iterator{path.parent_path(), ec})
    if (is_temporary_of(e.path().filename().wstring(), path))
      DeleteFileW(e.path().c_str());
  auto tmp = path.parent_path() / temporary_name(path);
  // CREATE_NEW: a new file, never one planted there.
  HANDLE h = CreateFileW(tmp.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW,
                         FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
                         nullptr);
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

std::optional<std::string> read_file(const std::filesystem::path& path,
                                     size_t limit, on_behalf,
                                     std::string& error) {
  // FILE_FLAG_OPEN_REPARSE_POINT: a link put where the file should be is
  // opened itself (and refused below), not followed.
  HANDLE h = CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr,
                         OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    error = "cannot open it (Windows error " + std::to_string(GetLastError())
            + ")";
    return std::nullopt;
  }
  BY_HANDLE_FILE_INFORMATION info{};
  std::string text;
  if (!GetFileInformationByHandle(h, &info)) {
    error = "cannot read it";
  } else if ((info.dwFileAttributes
              & (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY))
             != 0) {
    error = "it is not a regular file";
  } else if (info.nFileSizeHigh != 0 || info.nFileSizeLow > limit) {
    error = "it is larger than " + std::to_string(limit / 1024) + " KiB";
  } else {
    text.resize(info.nFileSizeLow);
    DWORD got = 0;
    if (!text.empty()
        && !ReadFile(h, text.data(), static_cast<DWORD>(text.size()), &got,
                     nullptr))
      error = "cannot read it";
    text.resize(got);
  }
  CloseHandle(h);
  if (!error.empty())
    return std::nullopt;
  return text;
}

bool has_leftover_temporaries(const std::filesystem::path& path) {
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator{path.parent_path(), ec})
    if (is_temporary_of(e.path().filename().wstring(), path))
      return true;
  return false;
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

std::optional<std::filesystem::path>
private_dir(const std::filesystem::path& dir) {
  // Under %LOCALAPPDATA%, which is the user's alone.
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || std::filesystem::is_symlink(dir, ec))
    return std::nullopt;
  return dir;
}

std::filesystem::path default_config_path() {
  return known_folder(L"APPDATA", L"C:\\") / "Drover" / "config.toml";
}

std::filesystem::path default_log_dir() {
  return known_folder(L"PROGRAMDATA", L"C:\\ProgramData") / "Drover" / "logs";
}

} // namespace drover::platform
