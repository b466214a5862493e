#pragma once

namespace drover::platform {

/// Makes SIGINT/SIGTERM (Ctrl+C, console close on Windows) wait for
/// wait_for_termination() instead of killing the process. Call first thing
/// in main, before any thread starts, so every thread inherits it.
void capture_termination_requests();

/// Blocks until a termination request arrives, from the OS or from
/// request_termination().
void wait_for_termination();

/// Wakes wait_for_termination() from any thread.
void request_termination();

/// This process's ID.
unsigned long current_process_id();

} // namespace drover::platform
