// Stands in for drover.exe where a test needs only to see how it was
// started (the update helper's restart): appends its command line, as
// Windows gives it, to the file named by DROVER_RECORD, and exits.
#include <cstdio>
#include <cstdlib>

#include <windows.h>

int main() {
  const char* path = std::getenv("DROVER_RECORD");
  if (path == nullptr)
    return 2;
  FILE* f = std::fopen(path, "ab");
  if (f == nullptr)
    return 3;
  std::fprintf(f, "%s\n", GetCommandLineA());
  std::fclose(f);
  return 0;
}
