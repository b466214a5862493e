#pragma once

// Tells when one file changed. The folder is watched, not the file: editors
// and Drover's own atomic save write a new file and rename it over the old
// one, which a watch on the old file would never see. Blocking; run wait()
// on a thread of its own and stop() from anywhere.

#include <filesystem>
#include <memory>
#include <string>

namespace drover::platform {

class file_watch {
public:
  /// Starts watching; error() says why when it could not.
  explicit file_watch(std::filesystem::path file);
  ~file_watch();
  file_watch(const file_watch&) = delete;
  file_watch& operator=(const file_watch&) = delete;

  bool ok() const;
  const std::string& error() const;

  /// Waits until the file was written, replaced, created or removed (true),
  /// or stop() was called or watching failed (false).
  bool wait();

  /// Makes every wait() return false from now on; thread-safe.
  void stop();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace drover::platform
