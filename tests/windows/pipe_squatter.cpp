// A program that is not Drover holding Drover's control pipe name, as a
// standard user's program could before the engine starts: it creates
// \\.\pipe\NAME, says "ready", then takes clients one after another and,
// when each leaves, says how many bytes it had sent ("read N bytes"). A
// Drover client must send it nothing. Runs until killed.
// usage: pipe_squatter.exe NAME
#include <windows.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pipe_squatter.exe NAME\n");
    return 2;
  }
  std::string name = std::string{"\\\\.\\pipe\\"} + argv[1];
  HANDLE first = CreateNamedPipeA(
      name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, PIPE_UNLIMITED_INSTANCES,
      4096, 4096, 0, nullptr);
  if (first == INVALID_HANDLE_VALUE) {
    std::fprintf(stderr, "cannot create %s: %lu\n", name.c_str(),
                 GetLastError());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  for (HANDLE pipe = first;;) {
    if (ConnectNamedPipe(pipe, nullptr)
        || GetLastError() == ERROR_PIPE_CONNECTED) {
      unsigned long total = 0;
      char buf[4096];
      DWORD n = 0;
      while (ReadFile(pipe, buf, sizeof buf, &n, nullptr) && n > 0)
        total += n;
      std::printf("read %lu bytes\n", total);
      std::fflush(stdout);
      DisconnectNamedPipe(pipe);
    }
    CloseHandle(pipe);
    pipe = CreateNamedPipeA(name.c_str(), PIPE_ACCESS_DUPLEX,
                            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT,
                            PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, nullptr);
    if (pipe == INVALID_HANDLE_VALUE)
      return 1;
  }
}
