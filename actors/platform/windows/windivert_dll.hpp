#pragma once

// WinDivert.dll, loaded at run time from the executable's folder (never
// from the search path, where another tool's older copy may sit), with its
// exports looked up by name. Nothing links against WinDivert, so Drover
// starts, and says what is wrong, even when the DLL is missing or
// quarantined.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "actors/platform/windivert_abi.hpp"

namespace drover::platform::windivert {

/// The SHA-256s (hexadecimal) that WinDivert.dll and WinDivert64.sys must
/// have; empty for a build made without WinDivert (the user brings it).
struct expected_files {
  std::string dll_sha256;
  std::string sys_sha256;
  bool shipped() const { return !dll_sha256.empty(); }
};

/// What this build packed (cmake/WindivertArchive.cmake).
expected_files packed_files();

/// Why the WinDivert files in `folder` must not be loaded, in words a user
/// can act on; empty when they may. Missing files: a build that shipped
/// them says to reinstall; one without says what to download and where to
/// put which file (reinstalling would not bring them). Shipped files are
/// hashed and must be the ones packed: another tool's copy, another
/// version or a damaged file is refused before it is loaded.
std::string files_problem(const std::filesystem::path& folder,
                          const expected_files& expected);

class dll {
public:
  /// Loads `folder`\WinDivert.dll once files_problem() has nothing
  /// against it; null with `error` (for the user) when it has, or the DLL
  /// lacks an export.
  static std::shared_ptr<dll>
  load(const std::filesystem::path& folder, std::string& error,
       const expected_files& expected = packed_files());

  ~dll();
  dll(const dll&) = delete;
  dll& operator=(const dll&) = delete;

  open_fn open = nullptr;
  recv_ex_fn recv_ex = nullptr;
  send_ex_fn send_ex = nullptr;
  shutdown_fn shutdown = nullptr;
  close_fn close = nullptr;
  set_param_fn set_param = nullptr;
  get_param_fn get_param = nullptr;

private:
  dll() = default;
  void* module_ = nullptr; // HMODULE
};

/// Opens a handle and checks the driver's version (2.x; another tool's
/// driver may serve us, see the facts sheet §7). On failure: nullptr, and
/// `code` holds the Windows error for explain_open_error() (or 0 with
/// `error` set for a version problem).
handle open_checked(const dll& d, const char* filter, layer l, int16_t priority,
                    uint64_t flags, uint32_t& code, std::string& error);

/// Sends `count` packets packed back to back in `bytes` (`used` bytes) with
/// their addresses, at most 255 per WinDivertSendEx (more fail the whole
/// call with error 87). Returns how many could not be sent.
size_t send_in_chunks(const dll& d, handle h, const uint8_t* bytes, size_t used,
                      const address* addrs, size_t count);

/// The length of the IP packet at `p` (IPv4 total length, IPv6 payload
/// plus header), or 0 when it does not fit in `left`.
uint32_t packet_length(const uint8_t* p, size_t left);

} // namespace drover::platform::windivert
