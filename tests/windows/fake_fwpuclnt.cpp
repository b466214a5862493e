// A test double of fwpuclnt.dll, the Windows Filtering Platform's
// management API, for the Windows build's tests under wine (wine's own
// answers "not supported" to FwpmEngineOpen0, and there is no filtering
// engine behind it). It exports what Drover uses, with the documented ABI
// (mingw-w64's fwpmu.h) and the documented rules for what lives how long:
// - the base filtering engine's store is a file (DROVER_FAKE_WFP_STORE),
//   so what a session adds outlives its process, as in the real service;
// - a dynamic session's objects go when the session is closed, and count
//   only while the process that made them lives (Windows removes them
//   when the process ends, however it ends; here the reader asks);
// - objects not flagged persistent go at a restart of the computer
//   (fake_wfp_restart), persistent ones stay.
// And what a test asks:
//   fake_wfp_decide   what the filters decide for a program's first packet
//                     at an ALE layer (0 none matched, 1 permit, 2 block):
//                     in each sublayer the heaviest matching filter
//                     decides; a block in any sublayer wins
//   fake_wfp_filters  how many filters are in the store (live ones)
//   fake_wfp_restart  the computer restarted
// And through the environment: DROVER_FAKE_WFP_REFUSE_DELETE=N makes every
// filter removal fail with error N.
// Errors are the documented FWP_E_* codes for what the real engine refuses
// that Drover could get wrong (an unknown layer or sublayer, a persistent
// object in a dynamic session, a nested transaction, ...).

#include <winsock2.h>

#include <windows.h>

#include <fwpmu.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "actors/platform/windows/wfp_abi.hpp"

namespace {

namespace wfp = drover::platform::wfp;

std::string hex(const void* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  auto b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    s += digits[b[i] >> 4];
    s += digits[b[i] & 15];
  }
  return s;
}

std::string key(const GUID& g) {
  return hex(&g, sizeof g);
}

// One object of the store, one line of its file.
struct object {
  char kind = 'F'; // S sublayer, F filter
  unsigned long long id = 0;
  std::string layer;       // F: the layer's key
  std::string sublayer;    // the sublayer's key
  unsigned action = 0;     // F
  unsigned weight = 0;     // F: FWP_UINT8's value
  std::string owner = "-"; // dynamic: "pid:session"; "-": lasting
  int persistent = 0;
  int not_loopback = 0;  // F: FLAGS none-set IS_LOOPBACK
  std::string app = "-"; // F: the app ID's text, or "-"
};

std::string store_path() {
  char buf[1024];
  DWORD n = GetEnvironmentVariableA("DROVER_FAKE_WFP_STORE", buf, sizeof buf);
  return n > 0 && n < sizeof buf ? std::string{buf, n} : std::string{};
}

bool process_lives(const std::string& owner);

// One reader or writer of the store at a time, across processes: Windows
// does not replace a file another handle has open, so a writer beside a
// reader would lose its change.
struct store_lock {
  HANDLE mutex = CreateMutexW(nullptr, FALSE, L"Local\\drover-fake-wfp-store");
  store_lock() {
    if (mutex != nullptr)
      WaitForSingleObject(mutex,
                          INFINITE); // abandoned by a killed engine: ours
  }
  ~store_lock() {
    if (mutex != nullptr) {
      ReleaseMutex(mutex);
      CloseHandle(mutex);
    }
  }
  store_lock(const store_lock&) = delete;
  store_lock& operator=(const store_lock&) = delete;
};

// The store as it stands: a dynamic session's objects whose process ended
// are gone (Windows removes them then; here the next reader does).
std::vector<object> load() {
  store_lock lock;
  std::vector<object> all;
  std::ifstream in{store_path()};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l{line};
    object o;
    l >> o.kind >> o.id >> o.layer >> o.sublayer >> o.action >> o.weight
        >> o.owner >> o.persistent >> o.not_loopback;
    std::getline(l >> std::ws, o.app);
    if (!o.app.empty() && process_lives(o.owner))
      all.push_back(o);
  }
  return all;
}

void save(const std::vector<object>& all) {
  store_lock lock;
  auto path = store_path();
  auto temp = path + ".new";
  {
    std::ofstream out{temp, std::ios::trunc};
    for (const auto& o : all)
      out << o.kind << ' ' << o.id << ' ' << o.layer << ' ' << o.sublayer << ' '
          << o.action << ' ' << o.weight << ' ' << o.owner << ' '
          << o.persistent << ' ' << o.not_loopback << ' ' << o.app << '\n';
  }
  if (!MoveFileExA(temp.c_str(), path.c_str(), MOVEFILE_REPLACE_EXISTING))
    std::abort(); // a change lost would make a test pass or fail wrongly
}

bool process_lives(const std::string& owner) {
  if (owner == "-")
    return true;
  auto pid = static_cast<DWORD>(std::strtoul(owner.c_str(), nullptr, 10));
  if (pid == GetCurrentProcessId())
    return true;
  HANDLE p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (p == nullptr)
    return false;
  DWORD code = 0;
  bool alive = GetExitCodeProcess(p, &code) && code == STILL_ACTIVE;
  CloseHandle(p);
  return alive;
}

struct session {
  bool dynamic = false;
  std::string owner = "-";
  bool in_transaction = false;
  std::vector<object> before; // the store when the transaction began
};

struct enumeration {
  std::vector<FWPM_FILTER0> filters;
  size_t next = 0;
};

int sessions_made = 0;

std::string app_text(const FWP_BYTE_BLOB* b) {
  std::string s;
  for (UINT32 i = 0; i + 1 < b->size; i += 2) {
    wchar_t c = static_cast<wchar_t>(b->data[i] | (b->data[i + 1] << 8));
    if (c == 0)
      break;
    s += c < 128 && c != ' ' ? static_cast<char>(c) : '?';
  }
  return s;
}

bool ale_layer(const GUID& g) {
  for (const auto& l : wfp::ale_layers)
    if (wfp::same(l, g))
      return true;
  return false;
}

// The lowercase device path FwpmGetAppIdFromFileName0 gives, for the
// drive-letter path `p` ("C:\x\y.exe" → "\device\harddiskvolume1\x\y.exe").
std::wstring app_id_of(const std::wstring& p) {
  std::wstring id = L"\\device\\harddiskvolume1";
  id += p.size() > 2 && p[1] == L':' ? p.substr(2) : p;
  for (auto& c : id)
    if (c >= L'A' && c <= L'Z')
      c = static_cast<wchar_t>(c - L'A' + L'a');
  return id;
}

} // namespace

extern "C" {

__declspec(dllexport) DWORD WINAPI
    FwpmEngineOpen0(const wchar_t* server, UINT32 authn,
                    SEC_WINNT_AUTH_IDENTITY_W*, const FWPM_SESSION0* s,
                    HANDLE* engine) {
  if (store_path().empty())
    return RPC_S_CANNOT_SUPPORT; // as wine's own
  if (server != nullptr || engine == nullptr
      || (authn != RPC_C_AUTHN_WINNT && authn != RPC_C_AUTHN_DEFAULT))
    return ERROR_INVALID_PARAMETER;
  auto h = new session;
  if (s != nullptr && (s->flags & wfp::session_dynamic) != 0) {
    h->dynamic = true;
    h->owner = std::to_string(GetCurrentProcessId()) + ":"
               + std::to_string(++sessions_made);
  }
  *engine = h;
  return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI FwpmEngineClose0(HANDLE engine) {
  auto h = static_cast<session*>(engine);
  if (h == nullptr)
    return ERROR_INVALID_HANDLE;
  if (h->in_transaction)
    save(h->before); // an open transaction is aborted
  if (h->dynamic) {
    auto all = load();
    std::vector<object> kept;
    for (const auto& o : all)
      if (o.owner != h->owner)
        kept.push_back(o);
    save(kept);
  }
  delete h;
  return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI
    FwpmTransactionBegin0(HANDLE engine, UINT32 flags) {
  auto h = static_cast<session*>(engine);
  if (flags != 0)
    return ERROR_INVALID_PARAMETER;
  if (h->in_transaction)
    return static_cast<DWORD>(FWP_E_TXN_IN_PROGRESS);
  h->in_transaction = true;
  h->before = load();
  return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI FwpmTransactionCommit0(HANDLE engine) {
  auto h = static_cast<session*>(engine);
  if (!h->in_transaction)
    return static_cast<DWORD>(FWP_E_NO_TXN_IN_PROGRESS);
  h->in_transaction = false;
  h->before.clear();
  return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI FwpmTransactionAbort0(HANDLE engine) {
  auto h = static_cast<session*>(engine);
  if (!h->in_transaction)
    return static_cast<DWORD>(FWP_E_NO_TXN_IN_PROGRESS);
  save(h->before);
  h->in_transaction = false;
  return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI
    FwpmSubLayerAdd0(HANDLE engine, const FWPM_SUBLAYER0* s,
                     PSECURITY_DESCRIPTOR) {
  auto h = static_cast<session*>(engine);
  auto all = load();
  for (const auto& o : all)
    if (o.kind == 'S' && o.sublayer == key(s->subLayerKey))
      return static_cast<DWORD>(FWP_E_ALREADY_EXISTS);
  object o;
  o.kind = 'S';
  o.layer = "-";
  o.sublayer = key(s->subLayerKey);
  o.persistent = (s->flags & wfp::sublayer_persistent) != 0;
  if (o.persistent && h->dynamic)
    return static_cast<DWORD>(FWP_E_DYNAMIC_SESSION_IN_PROGRESS);
  o.owner = h->owner;
  all.push_back(o);
  save(all);
  return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI
    FwpmSubLayerDeleteByKey0(HANDLE, const GUID* k) {
  auto all = load();
  bool found = false;
  std::vector<object> kept;
  for (const auto& o : all) {
    if (o.sublayer != key(*k)) {
      kept.push_back(o);
      continue;
    }
    if (o.kind == 'F')
      return static_cast<DWORD>(FWP_E_IN_USE);
    found = true;
  }
  if (!found)
    return static_cast<DWORD>(FWP_E_SUBLAYER_NOT_FOUND);
  save(kept);
  return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI
    FwpmFilterAdd0(HANDLE engine, const FWPM_FILTER0* f, PSECURITY_DESCRIPTOR,
                   UINT64* id) {
  auto h = static_cast<session*>(engine);
  if (!ale_layer(f->layerKey))
    return static_cast<DWORD>(FWP_E_LAYER_NOT_FOUND);
  auto all = load();
  bool sublayer = false;
  unsigned long long last = 0;
  for (const auto& o : all) {
    sublayer = sublayer || (o.kind == 'S' && o.sublayer == key(f->subLayerKey));
    last = o.id > last ? o.id : last;
  }
  if (!sublayer)
    return static_cast<DWORD>(FWP_E_SUBLAYER_NOT_FOUND);
  object o;
  o.id = last + 1;
  o.layer = key(f->layerKey);
  o.sublayer = key(f->subLayerKey);
  o.action = f->action.type;
  if (o.action != FWP_ACTION_BLOCK && o.action != FWP_ACTION_PERMIT)
    return static_cast<DWORD>(FWP_E_INVALID_ACTION_TYPE);
  if (f->weight.type == FWP_UINT8 && f->weight.uint8 <= 15)
    o.weight = f->weight.uint8;
  else if (f->weight.type != FWP_EMPTY)
    return static_cast<DWORD>(FWP_E_INVALID_WEIGHT);
  o.persistent = (f->flags & wfp::filter_persistent) != 0;
  if (o.persistent && h->dynamic)
    return static_cast<DWORD>(FWP_E_DYNAMIC_SESSION_IN_PROGRESS);
  for (UINT32 i = 0; i < f->numFilterConditions; ++i) {
    const auto& c = f->filterCondition[i];
    if (wfp::same(c.fieldKey, wfp::condition_app_id)
        && c.matchType == FWP_MATCH_EQUAL
        && c.conditionValue.type == FWP_BYTE_BLOB_TYPE
        && c.conditionValue.byteBlob != nullptr)
      o.app = app_text(c.conditionValue.byteBlob);
    else if (wfp::same(c.fieldKey, wfp::condition_flags)
             && c.matchType == FWP_MATCH_FLAGS_NONE_SET
             && c.conditionValue.type == FWP_UINT32
             && c.conditionValue.uint32 == FWP_CONDITION_FLAG_IS_LOOPBACK)
      o.not_loopback = 1;
    else
      return static_cast<DWORD>(FWP_E_CONDITION_NOT_FOUND); // not emulated
  }
  o.owner = h->owner;
  all.push_back(o);
  save(all);
  if (id != nullptr)
    *id = o.id;
  return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI FwpmFilterDeleteById0(HANDLE, UINT64 id) {
  // DROVER_FAKE_WFP_REFUSE_DELETE=N: the engine refuses to remove filters,
  // with error N (a policy, another administrator's lock, a service that
  // went away between the listing and the removal).
  char refuse[16];
  DWORD n = GetEnvironmentVariableA("DROVER_FAKE_WFP_REFUSE_DELETE", refuse,
                                    sizeof refuse);
  if (n > 0 && n < sizeof refuse)
    return static_cast<DWORD>(std::strtoul(refuse, nullptr, 10));
  auto all = load();
  for (auto it = all.begin(); it != all.end(); ++it)
    if (it->kind == 'F' && it->id == id) {
      all.erase(it);
      save(all);
      return ERROR_SUCCESS;
    }
  return static_cast<DWORD>(FWP_E_FILTER_NOT_FOUND);
}

__declspec(dllexport) DWORD WINAPI
    FwpmFilterCreateEnumHandle0(HANDLE, const FWPM_FILTER_ENUM_TEMPLATE0* t,
                                HANDLE* out) {
  if (t == nullptr || out == nullptr)
    return ERROR_INVALID_PARAMETER;
  auto e = new enumeration;
  for (const auto& o : load()) {
    if (o.kind != 'F' || o.layer != key(t->layerKey)
        || (o.action & t->actionMask) == 0)
      continue;
    FWPM_FILTER0 f{};
    f.layerKey = t->layerKey;
    for (size_t i = 0; i < sizeof(GUID); ++i)
      reinterpret_cast<unsigned char*>(&f.subLayerKey)[i]
          = static_cast<unsigned char>(
              std::stoul(o.sublayer.substr(2 * i, 2), nullptr, 16));
    f.action.type = o.action;
    f.weight.type = FWP_UINT8;
    f.weight.uint8 = static_cast<UINT8>(o.weight);
    f.filterId = o.id;
    e->filters.push_back(f);
  }
  *out = e;
  return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI
    FwpmFilterEnum0(HANDLE, HANDLE handle, UINT32 wanted,
                    FWPM_FILTER0*** entries, UINT32* got) {
  auto e = static_cast<enumeration*>(handle);
  UINT32 n = 0;
  while (n < wanted && e->next + n < e->filters.size())
    ++n;
  // One block, freed at once by FwpmFreeMemory0: the pointers, then the
  // filters they point at.
  auto block = static_cast<unsigned char*>(
      std::malloc(n * (sizeof(FWPM_FILTER0*) + sizeof(FWPM_FILTER0)) + 1));
  auto pointers = reinterpret_cast<FWPM_FILTER0**>(block);
  auto filters
      = reinterpret_cast<FWPM_FILTER0*>(block + n * sizeof(FWPM_FILTER0*));
  for (UINT32 i = 0; i < n; ++i) {
    filters[i] = e->filters[e->next + i];
    pointers[i] = &filters[i];
  }
  e->next += n;
  *entries = pointers;
  *got = n;
  return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI
    FwpmFilterDestroyEnumHandle0(HANDLE, HANDLE handle) {
  delete static_cast<enumeration*>(handle);
  return ERROR_SUCCESS;
}

__declspec(dllexport) DWORD WINAPI
    FwpmGetAppIdFromFileName0(const wchar_t* file, FWP_BYTE_BLOB** app) {
  // The real one opens the file: a path that is not there is refused.
  if (GetFileAttributesW(file) == INVALID_FILE_ATTRIBUTES)
    return GetLastError();
  auto id = app_id_of(file);
  auto bytes = (id.size() + 1) * sizeof(wchar_t);
  auto block
      = static_cast<unsigned char*>(std::malloc(sizeof(FWP_BYTE_BLOB) + bytes));
  auto blob = reinterpret_cast<FWP_BYTE_BLOB*>(block);
  blob->size = static_cast<UINT32>(bytes);
  blob->data = block + sizeof(FWP_BYTE_BLOB);
  std::memcpy(blob->data, id.c_str(), bytes);
  *app = blob;
  return ERROR_SUCCESS;
}

__declspec(dllexport) void WINAPI FwpmFreeMemory0(void** p) {
  if (p != nullptr) {
    std::free(*p);
    *p = nullptr;
  }
}

__declspec(dllexport) int fake_wfp_decide(int layer, const wchar_t* path,
                                          int loopback) {
  if (layer < 0 || layer > 3)
    return -1;
  std::string app;
  for (auto c : app_id_of(path))
    app += c < 128 && c != L' ' ? static_cast<char>(c) : '?';
  struct best {
    std::string sublayer;
    unsigned weight = 0;
    unsigned action = 0;
  };
  std::vector<best> sublayers;
  for (const auto& o : load()) {
    if (o.kind != 'F' || o.layer != key(wfp::ale_layers[layer])
        || (o.app != "-" && o.app != app) || (o.not_loopback && loopback))
      continue;
    bool known = false;
    for (auto& b : sublayers)
      if (b.sublayer == o.sublayer) {
        known = true;
        if (o.weight > b.weight)
          b = {o.sublayer, o.weight, o.action};
      }
    if (!known)
      sublayers.push_back({o.sublayer, o.weight, o.action});
  }
  int decision = 0;
  for (const auto& b : sublayers)
    decision
        = b.action == FWP_ACTION_BLOCK ? 2 : (decision == 0 ? 1 : decision);
  return decision;
}

__declspec(dllexport) int fake_wfp_filters() {
  int n = 0;
  for (const auto& o : load())
    n += o.kind == 'F';
  return n;
}

__declspec(dllexport) void fake_wfp_restart() {
  std::vector<object> kept;
  for (const auto& o : load())
    if (o.persistent)
      kept.push_back(o);
  save(kept);
}

} // extern "C"
