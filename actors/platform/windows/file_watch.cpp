#include "actors/platform/file_watch.hpp"

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <atomic>

#include "actors/platform/windows/win32.hpp"

namespace drover::platform {

struct file_watch::impl {
  std::wstring name; // the file's name inside the watched folder
  std::string error;
  HANDLE folder = INVALID_HANDLE_VALUE;
  HANDLE changed = nullptr; // the overlapped read's event
  HANDLE stop = nullptr;    // stop() sets it
  std::atomic<bool> stopped{false};
  OVERLAPPED ov{};
  bool armed = false;
  alignas(DWORD) char buf[8192];

  // Windows records changes only while a read is outstanding, so one always
  // is: from the constructor on, and again as soon as one completes.
  bool arm() {
    if (armed)
      return true;
    ov = OVERLAPPED{};
    ov.hEvent = changed;
    ResetEvent(changed);
    // Written, renamed into place, created, removed, renamed away.
    constexpr DWORD what = FILE_NOTIFY_CHANGE_FILE_NAME
                           | FILE_NOTIFY_CHANGE_LAST_WRITE
                           | FILE_NOTIFY_CHANGE_SIZE;
    if (!ReadDirectoryChangesW(folder, buf, sizeof buf, FALSE, what, nullptr,
                               &ov, nullptr)) {
      error = "watching failed: " + windows_port::error_text(GetLastError());
      return false;
    }
    armed = true;
    return true;
  }
};

file_watch::file_watch(std::filesystem::path file)
    : impl_(std::make_unique<impl>()) {
  auto& d = *impl_;
  d.name = file.filename().wstring();
  auto dir = file.parent_path();
  if (dir.empty())
    dir = ".";
  d.changed = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  d.stop = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  d.folder
      = CreateFileW(dir.c_str(), FILE_LIST_DIRECTORY,
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    nullptr, OPEN_EXISTING,
                    FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, nullptr);
  if (d.folder == INVALID_HANDLE_VALUE || d.changed == nullptr
      || d.stop == nullptr)
    d.error = "cannot watch " + dir.string() + ": "
              + windows_port::error_text(GetLastError());
  else
    d.arm();
}

file_watch::~file_watch() {
  auto& d = *impl_;
  if (d.folder != INVALID_HANDLE_VALUE) {
    if (d.armed) {
      CancelIoEx(d.folder, &d.ov);
      DWORD n = 0;
      GetOverlappedResult(d.folder, &d.ov, &n, TRUE);
    }
    CloseHandle(d.folder);
  }
  for (HANDLE h : {d.changed, d.stop})
    if (h != nullptr)
      CloseHandle(h);
}

bool file_watch::ok() const {
  return impl_->error.empty();
}

const std::string& file_watch::error() const {
  return impl_->error;
}

bool file_watch::wait() {
  auto& d = *impl_;
  if (!ok())
    return false;
  for (;;) {
    if (d.stopped.load())
      return false;
    if (!d.arm())
      return false;
    HANDLE both[2] = {d.changed, d.stop};
    if (WaitForMultipleObjects(2, both, FALSE, INFINITE) != WAIT_OBJECT_0)
      return false; // stopped; the read stays armed until destruction
    DWORD n = 0;
    d.armed = false;
    if (!GetOverlappedResult(d.folder, &d.ov, &n, FALSE)) {
      d.error = "watching failed: " + windows_port::error_text(GetLastError());
      return false;
    }
    // n == 0: the buffer overflowed and events were lost; look anyway.
    bool ours = n == 0;
    // Events for every file in the folder; only ours count.
    for (DWORD at = 0; !ours;) {
      auto* e = reinterpret_cast<const FILE_NOTIFY_INFORMATION*>(d.buf + at);
      std::wstring name{e->FileName, e->FileNameLength / sizeof(wchar_t)};
      ours = CompareStringOrdinal(name.c_str(), static_cast<int>(name.size()),
                                  d.name.c_str(),
                                  static_cast<int>(d.name.size()), TRUE)
             == CSTR_EQUAL;
      if (e->NextEntryOffset == 0)
        break;
      at += e->NextEntryOffset;
    }
    if (!d.arm())
      return false;
    if (ours)
      return true;
  }
}

void file_watch::stop() {
  impl_->stopped.store(true);
  SetEvent(impl_->stop);
}

} // namespace drover::platform
