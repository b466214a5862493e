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
  // The next instance is made while a client is still connected to the
  // current one, so the name never lapses: a squatter that let it lapse
  // between clients would let the engine take the name (as it should when
  // the name is free) and the test would wait for an engine that runs.
  for (HANDLE pipe = first;;) {
    bool connected = ConnectNamedPipe(pipe, nullptr)
                     || GetLastError() == ERROR_PIPE_CONNECTED;
    HANDLE next
        = CreateNamedPipeA(name.c_str(), PIPE_ACCESS_DUPLEX,
                           PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT,
                           PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, nullptr);
    if (connected) {
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
    if (next == INVALID_HANDLE_VALUE) {
      std::fprintf(stderr, "cannot make the next instance: %lu\n",
                   GetLastError());
      return 1;
    }
    pipe = next;
  }
}
