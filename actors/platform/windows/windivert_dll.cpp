#include "actors/platform/windows/windivert_dll.hpp"

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <algorithm>
#include <fstream>
#include <tuple>

#include "actors/platform/windows/win32.hpp"
#include "net/bytes.hpp"
#include "net/sha2.hpp"

namespace drover::platform::windivert {

namespace {

// The SHA-256 of a file, or empty when it cannot be read.
std::string file_sha256(const std::filesystem::path& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return {};
  net::sha256_hasher h;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0)
    h.add(buf, static_cast<size_t>(in.gcount()));
  return net::to_hex(h.finish());
}

} // namespace

expected_files packed_files() {
  return {DROVER_WINDIVERT_DLL_SHA256, DROVER_WINDIVERT_SYS_SHA256};
}

std::string files_problem(const std::filesystem::path& folder,
                          const expected_files& expected) {
  std::error_code ec;
  auto dll_path = folder / L"WinDivert.dll";
  auto sys_path = folder / L"WinDivert64.sys";
  bool have_dll = std::filesystem::is_regular_file(dll_path, ec);
  bool have_sys = std::filesystem::is_regular_file(sys_path, ec);
  if (!expected.shipped()) {
    if (have_dll)
      return {};
    return "this Drover was built without WinDivert, so reinstalling it "
           "does not bring it: download WinDivert-2.2.2-A.zip from "
           "https://reqrypt.org/windivert.html and copy its "
           "x64\\WinDivert.dll and x64\\WinDivert64.sys into "
           + folder.string() + ", then choose Start";
  }
  for (auto [path, have, want] :
       {std::tuple{dll_path, have_dll, expected.dll_sha256},
        std::tuple{sys_path, have_sys, expected.sys_sha256}}) {
    if (!have)
      return path.string()
             + " is missing: reinstall Drover; your antivirus may have "
               "removed it";
    auto got = file_sha256(path);
    if (got != want)
      return path.string()
             + " is not the WinDivert file Drover was "
               "installed with (its SHA-256 is "
             + (got.empty() ? std::string{"unreadable"} : got) + ", expected "
             + want
             + "): another program may have replaced it; reinstall "
               "Drover";
  }
  return {};
}

std::shared_ptr<dll> dll::load(const std::filesystem::path& folder,
                               std::string& error,
                               const expected_files& expected) {
  if (auto problem = files_problem(folder, expected); !problem.empty()) {
    error = problem;
    return nullptr;
  }
  auto path = folder / L"WinDivert.dll";
  // LOAD_WITH_ALTERED_SEARCH_PATH: its own dependencies come from its
  // folder too.
  HMODULE m
      = LoadLibraryExW(path.c_str(), nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
  if (m == nullptr) {
    error = "WinDivert.dll could not be loaded from " + path.string()
            + " (Windows error " + std::to_string(GetLastError())
            + "): reinstall Drover; your antivirus may have removed it";
    return nullptr;
  }
  std::shared_ptr<dll> d{new dll};
  d->module_ = m;
  std::string missing;
  bool ok = windows_port::find_export(m, "WinDivertOpen", d->open, missing);
  ok = windows_port::find_export(m, "WinDivertRecvEx", d->recv_ex, missing)
       && ok;
  ok = windows_port::find_export(m, "WinDivertSendEx", d->send_ex, missing)
       && ok;
  ok = windows_port::find_export(m, "WinDivertShutdown", d->shutdown, missing)
       && ok;
  ok = windows_port::find_export(m, "WinDivertClose", d->close, missing) && ok;
  ok = windows_port::find_export(m, "WinDivertSetParam", d->set_param, missing)
       && ok;
  ok = windows_port::find_export(m, "WinDivertGetParam", d->get_param, missing)
       && ok;
  if (!ok) {
    error = path.string() + " is not WinDivert 2.x (it lacks " + missing
            + "): reinstall Drover";
    return nullptr;
  }
  return d;
}

dll::~dll() {
  if (module_ != nullptr)
    FreeLibrary(static_cast<HMODULE>(module_));
}

handle open_checked(const dll& d, const char* filter, layer l, int16_t priority,
                    uint64_t flags, uint32_t& code, std::string& error) {
  code = 0;
  SetLastError(0);
  handle h = d.open(filter, l, priority, flags);
  // INVALID_HANDLE_VALUE, or NULL on two out-of-memory paths.
  if (h == INVALID_HANDLE_VALUE || h == nullptr) {
    code = GetLastError();
    if (code == 0)
      code = ERROR_NOT_ENOUGH_MEMORY;
    return nullptr;
  }
  uint64_t major = 0, minor = 0;
  if (!d.get_param(h, param_version_major, &major)
      || !d.get_param(h, param_version_minor, &minor) || major != 2) {
    d.close(h);
    error = "the loaded WinDivert driver is version " + std::to_string(major)
            + "." + std::to_string(minor)
            + ", Drover needs 2.x: another tool's driver is loaded; close "
              "that tool, then run as administrator: sc stop WinDivert, then "
              "sc delete WinDivert, and Retry";
    return nullptr;
  }
  return h;
}

uint32_t packet_length(const uint8_t* p, size_t left) {
  if (left < 20)
    return 0;
  uint32_t n = (p[0] >> 4) == 6 ? 40u + net::load16(p + 4) : net::load16(p + 2);
  return n <= left ? n : 0;
}

size_t send_in_chunks(const dll& d, handle h, const uint8_t* bytes, size_t used,
                      const address* addrs, size_t count) {
  size_t failed = 0;
  size_t at = 0;
  for (size_t first = 0; first < count; first += batch_max) {
    size_t n = std::min<size_t>(batch_max, count - first);
    size_t length = 0;
    for (size_t i = 0; i < n; ++i)
      length += packet_length(bytes + at + length, used - at - length);
    unsigned sent = 0;
    if (!d.send_ex(h, bytes + at, static_cast<unsigned>(length), &sent, 0,
                   addrs + first, static_cast<unsigned>(n * sizeof(address)),
                   nullptr))
      failed += n;
    at += length;
  }
  return failed;
}

} // namespace drover::platform::windivert
