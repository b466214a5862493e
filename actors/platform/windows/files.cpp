#include "actors/platform/files.hpp"

#include <cstdlib>
#include <cwchar>
#include <memory>
#include <string>

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
// After windows.h.
#include <aclapi.h>
#include <sddl.h>

#include <ctime>

#include "actors/platform/windows/invoking_user.hpp"

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
                                      on_behalf who,
                                      const std::function<void()>& before) {
  // %APPDATA% is already private to the user; no ACL change is needed.
  // The user's files with the user's rights (invoking_user.hpp): a
  // junction they planted leads nowhere they could not write themselves.
  windows_port::acting_as as{who == on_behalf::invoking_user
                                 ? windows_port::the_invoking_user()
                                 : nullptr};
  if (as.failed())
    return last_error();
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
                                     size_t limit, on_behalf who,
                                     std::string& error) {
  windows_port::acting_as as{who == on_behalf::invoking_user
                                 ? windows_port::the_invoking_user()
                                 : nullptr};
  if (as.failed()) {
    error = "cannot act as the user it belongs to (Windows error "
            + std::to_string(GetLastError()) + ")";
    return std::nullopt;
  }
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

std::filesystem::path default_state_dir() {
  return default_log_dir().parent_path();
}

namespace {

std::string narrow(const std::filesystem::path& p) {
  return p.u8string();
}

std::string sid_text(PSID sid) {
  wchar_t* text = nullptr;
  if (sid == nullptr || !ConvertSidToStringSidW(sid, &text))
    return {};
  std::wstring w{text};
  LocalFree(text);
  return std::filesystem::path{w}.u8string();
}

std::string own_user_sid() {
  HANDLE token = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
    return {};
  DWORD size = 0;
  GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  std::string sid;
  if (size > 0) {
    auto buf = std::make_unique<char[]>(size);
    if (GetTokenInformation(token, TokenUser, buf.get(), size, &size))
      sid = sid_text(reinterpret_cast<TOKEN_USER*>(buf.get())->User.Sid);
  }
  CloseHandle(token);
  return sid;
}

// The folder's owner, as a SID; empty when it cannot be read.
std::string owner_of(const std::filesystem::path& dir) {
  PSID owner = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  if (GetNamedSecurityInfoW(dir.c_str(), SE_FILE_OBJECT,
                            OWNER_SECURITY_INFORMATION, &owner, nullptr,
                            nullptr, nullptr, &descriptor)
      != ERROR_SUCCESS)
    return {};
  auto sid = sid_text(owner);
  LocalFree(descriptor);
  return sid;
}

// SYSTEM and administrators, nobody else, inherited by what is made inside,
// nothing inherited from %PROGRAMDATA% (which lets users create files).
constexpr const wchar_t* engine_folder_sddl
    = L"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

// Why `dir` may not hold the engine's files, or nothing.
std::optional<std::string> untrusted(const std::filesystem::path& dir,
                                     DWORD attributes,
                                     const std::string& engine_sid) {
  if (!(attributes & FILE_ATTRIBUTE_DIRECTORY))
    return std::string{"it is a file, not a folder"};
  auto owner = owner_of(dir);
  if (!trusted_folder_owner(owner, engine_sid))
    return "it belongs to " + (owner.empty() ? "an unknown owner" : owner)
           + ", not to an administrator";
  return std::nullopt;
}

} // namespace

std::optional<std::string>
secure_engine_folders(std::vector<std::string>& moved) {
  auto logs = default_log_dir();
  auto engine_sid = own_user_sid();
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(
          engine_folder_sddl, SDDL_REVISION_1, &descriptor, nullptr))
    return "cannot prepare the access list for " + narrow(logs.parent_path());
  std::optional<std::string> problem;
  for (const auto& dir : {logs.parent_path(), logs}) {
    DWORD attributes = GetFileAttributesW(dir.c_str());
    if (attributes != INVALID_FILE_ATTRIBUTES
        && (attributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
      // Refused, not moved: renaming or deleting through a link is what
      // it was planted for (wine's rename even moves the link's target).
      problem = narrow(dir)
                + " is a link (a junction or symbolic link), not a folder: "
                  "Drover writes nothing through it. It is not Drover's: "
                  "remove the link (rmdir \""
                + narrow(dir)
                + "\" in an administrator Command Prompt removes only the "
                  "link) and start Drover again";
      break;
    }
    if (attributes != INVALID_FILE_ATTRIBUTES) {
      if (auto why = untrusted(dir, attributes, engine_sid)) {
        // Moved aside, never entered or deleted: a planted folder's files
        // stay as they are, and the engine uses none of them.
        auto aside = dir;
        aside += L".untrusted-" + std::to_wstring(std::time(nullptr));
        if (!MoveFileExW(dir.c_str(), aside.c_str(), 0)) {
          problem = narrow(dir) + " is not Drover's (" + *why
                    + ") and could not be moved aside: "
                    + std::error_code{static_cast<int>(GetLastError()),
                                      std::system_category()}
                          .message()
                    + ". Delete it and start Drover again";
          break;
        }
        moved.push_back(narrow(dir) + " was moved aside to " + narrow(aside)
                        + " (" + *why + ")");
        attributes = INVALID_FILE_ATTRIBUTES;
      }
    }
    if (attributes == INVALID_FILE_ATTRIBUTES) {
      SECURITY_ATTRIBUTES sa{sizeof sa, descriptor, FALSE};
      if (!CreateDirectoryW(dir.c_str(), &sa)) {
        problem = "cannot create " + narrow(dir) + ": "
                  + std::error_code{static_cast<int>(GetLastError()),
                                    std::system_category()}
                        .message();
        break;
      }
    }
    // An access list of its own, whoever made the folder (by default
    // %PROGRAMDATA%'s subfolders let every user add files).
    BOOL present = FALSE, defaulted = FALSE;
    PACL dacl = nullptr;
    GetSecurityDescriptorDacl(descriptor, &present, &dacl, &defaulted);
    auto rc = SetNamedSecurityInfoW(
        const_cast<wchar_t*>(dir.c_str()), SE_FILE_OBJECT,
        DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
        nullptr, nullptr, dacl, nullptr);
    if (rc != ERROR_SUCCESS) {
      problem = "cannot restrict access to " + narrow(dir) + ": "
                + std::error_code{static_cast<int>(rc), std::system_category()}
                      .message();
      break;
    }
  }
  LocalFree(descriptor);
  return problem;
}

} // namespace drover::platform
