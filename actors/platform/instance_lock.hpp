#pragma once

// Who is the first instance of a program: held for the process's life,
// released by the OS when it ends (a crash included), so a leftover never
// blocks the next start. Linux: an flock()ed file; Windows: a named mutex in
// the session's namespace ("Local\").

#include <memory>
#include <string>

namespace drover::platform {

class instance_lock {
public:
  /// `name`: Linux a lock file's path; Windows the mutex's name (no
  /// backslashes). Null when another process holds it; then `error` is
  /// empty, or says why the lock could not be tried at all.
  static std::unique_ptr<instance_lock> claim(const std::string& name,
                                              std::string& error);
  ~instance_lock();
  instance_lock(const instance_lock&) = delete;
  instance_lock& operator=(const instance_lock&) = delete;

  struct impl;

private:
  explicit instance_lock(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

} // namespace drover::platform
