// Writes what it runs with to the file named by its argument: whether its
// token is elevated, and its user. Stands for a program `drover run`
// starts (tests/windows/engine_test.sh).
// usage: token_report.exe FILE
#include <windows.h>
// After windows.h.
#include <sddl.h>

#include <cstdio>

int wmain(int argc, wchar_t** argv) {
  if (argc != 2)
    return 2;
  HANDLE token = nullptr;
  TOKEN_ELEVATION elevation{};
  DWORD size = 0;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)
      || !GetTokenInformation(token, TokenElevation, &elevation,
                              sizeof elevation, &size))
    return 3;
  char user[256];
  size = 0;
  GetTokenInformation(token, TokenUser, user, sizeof user, &size);
  wchar_t* sid = nullptr;
  ConvertSidToStringSidW(reinterpret_cast<TOKEN_USER*>(user)->User.Sid, &sid);
  FILE* out = _wfopen(argv[1], L"w");
  if (out == nullptr)
    return 4;
  std::fprintf(out, "elevated %lu\nuser %ls\n", elevation.TokenIsElevated,
               sid != nullptr ? sid : L"?");
  std::fclose(out);
  return 0;
}
