#pragma once

// Windows' answer to a killed engine. WinDivert's handles close with the
// engine's process, and whatever a target then sends would go out direct;
// on Linux the kernel's rules outlive the engine. Here a Windows Filtering
// Platform block does: every program the capture has taken since Start is
// blocked (its connections and its datagrams, loopback aside) by filters
// that outlive the engine, and the engine lifts them with a permit in a
// dynamic session, which Windows removes the moment the engine's process
// ends, however it ends. Policy changes make Windows look again at the
// flows already allowed, so the programs' open connections are cut too.
// Stop (release) takes the blocks away: the programs go direct, as asked.
// The blocks are not persistent: a restart of the computer ends them, as a
// power loss ends Linux's.
//
// Thread-safe for one caller at a time (the guard serialises them).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace drover::platform::windows_port {

class crash_block {
public:
  /// `library`: an fwpuclnt.dll already loaded (the tests' double); none:
  /// System32's, loaded at hold().
  explicit crash_block(void* library = nullptr);
  /// Closes the sessions: the permit goes, the blocks stay (as when the
  /// engine is killed). Only release() takes the blocks away.
  ~crash_block();
  crash_block(const crash_block&) = delete;
  crash_block& operator=(const crash_block&) = delete;

  /// Opens the lasting session and Drover's sublayer. Blocks a killed
  /// engine left stay in force. Empty, or why not (a sentence).
  std::string hold();
  /// The engine's permit (dynamic session), over every block: to be in
  /// place once the capture holds the targets, not before.
  std::string lift();
  /// Blocks the program at `path` (UTF-8) should the engine be killed.
  /// Refused until lift() succeeded: a block without the permit would cut
  /// the program off while the engine runs. An executable no longer there
  /// (an updated program's old folder) cannot run: nothing to block.
  std::string block_program(const std::string& path);
  /// The capture no longer holds the targets (a stalled packet reader let
  /// its handle go): the permit goes, so the blocks apply until lift().
  void drop_permit();
  /// Stop: every block in Drover's sublayer goes (a killed engine's too),
  /// then the permit. Empty, or what could not be removed; `removed`, when
  /// given, counts the filters that went.
  std::string release(size_t* removed = nullptr);
  /// Whether a permit is in Drover's sublayer: an engine runs (a dynamic
  /// session's objects go with its process). After hold().
  bool permit_in_place();

  bool held() const { return store_ != nullptr; }
  bool lifted() const { return live_ != nullptr; }

private:
  struct api;
  std::string load();
  std::string filters_in_sublayer(std::vector<uint64_t>& ids, uint32_t action);

  std::unique_ptr<api> api_;
  void* library_ = nullptr;
  bool own_library_ = false;
  void* store_ = nullptr; // a lasting session: its objects outlive it
  void* live_ = nullptr;  // the dynamic session of the permit
};

/// When to hold, lift, block and drop, for the capture guard; thread-safe
/// (the guard's check, a session's opening, the stall watch, Stop).
class crash_keeper {
public:
  /// Holds the lasting session at once (Start).
  explicit crash_keeper(void* library = nullptr);

  /// A session's handle diverts: the targets are held by the capture, so
  /// the permit may lift the blocks a killed engine left.
  void capture_holds();
  /// The session's handles no longer divert (a stalled reader's was let
  /// go, or the driver went): the targets' packets would pass undiverted
  /// until a new session opens, so the permit goes meanwhile and the
  /// captured programs are blocked.
  void capture_lost();
  /// The guard's check: holds again after a refusal, lifts once the
  /// capture holds, blocks `fresh` (programs the capture took) and those
  /// Windows refused before (each tried, whatever another's fate).
  /// Returns the problem, or empty.
  std::string keep(std::vector<std::string> fresh = {});
  std::string problem() const;
  /// Stop: Drover's blocks go, then the permit. Empty, or what Windows
  /// refused to remove. Final: a check or a session arriving later (the
  /// watchdog ends as the guard is released) holds and lifts nothing.
  std::string release();

  /// For the tests.
  bool lifted() const;

private:
  void keep_locked();

  mutable std::mutex mutex_;
  crash_block block_;
  std::string problem_;
  bool capturing_ = false;
  bool released_ = false;
  std::vector<std::string> unblocked_; // taken, not yet blocked
};

} // namespace drover::platform::windows_port
