// An engine's crash block, alone in a process of its own, for
// crash_block_test to kill: it holds the block, lifts it, blocks the
// program it is given, says so (a named event) and waits to be killed.
// usage: crash_block_engine FWPUCLNT_DLL PROGRAM_PATH READY_EVENT

#include <windows.h>

#include <cstdio>

#include "actors/platform/windows/crash_block.hpp"

int wmain(int argc, wchar_t** argv) {
  if (argc != 4)
    return 2;
  HMODULE library = LoadLibraryW(argv[1]);
  if (library == nullptr)
    return 3;
  drover::platform::windows_port::crash_block block{library};
  char path[MAX_PATH * 3];
  WideCharToMultiByte(CP_UTF8, 0, argv[2], -1, path, sizeof path, nullptr,
                      nullptr);
  for (auto problem : {block.hold(), block.lift(), block.block_program(path)})
    if (!problem.empty()) {
      std::fprintf(stderr, "%s\n", problem.c_str());
      return 4;
    }
  HANDLE ready = OpenEventW(EVENT_MODIFY_STATE, FALSE, argv[3]);
  if (ready == nullptr || !SetEvent(ready))
    return 5;
  Sleep(60000); // killed long before: a test that forgets ends anyway
  return 6;
}
