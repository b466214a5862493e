#include "actors/platform/instance_lock.hpp"

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "actors/platform/windows/win32.hpp"

namespace drover::platform {

struct instance_lock::impl {
  HANDLE mutex = nullptr;
};

instance_lock::instance_lock(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

instance_lock::~instance_lock() {
  CloseHandle(impl_->mutex); // the last handle: the name is free again
}

std::unique_ptr<instance_lock> instance_lock::claim(const std::string& name,
                                                    std::string& error) {
  auto wide = L"Local\\" + windows_port::to_wide(name);
  HANDLE m = CreateMutexW(nullptr, FALSE, wide.c_str());
  if (m == nullptr) {
    // Held by a process of another user in this session, say.
    auto code = GetLastError();
    if (code != ERROR_ACCESS_DENIED)
      error = "cannot create the mutex " + name + ": "
              + windows_port::error_text(code);
    return nullptr;
  }
  if (GetLastError() == ERROR_ALREADY_EXISTS) {
    CloseHandle(m);
    return nullptr;
  }
  auto i = std::make_unique<impl>();
  i->mutex = m;
  return std::unique_ptr<instance_lock>{new instance_lock(std::move(i))};
}

} // namespace drover::platform
