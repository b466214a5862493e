#include "actors/platform/windows/crash_block.hpp"

#include "actors/platform/windows/wfp_abi.hpp"
#include "actors/platform/windows/win32.hpp"

namespace drover::platform::windows_port {

namespace {

// Drover's own sublayer: all its filters, and nothing else's.
constexpr GUID drover_sublayer{
    0x5d1a7c2e,
    0x8b3f,
    0x4e61,
    {0x9a, 0x0d, 0xd2, 0x0e, 0x5e, 0x3b, 0x7f, 0x01}};

// Within the sublayer the heaviest matching filter decides: the engine's
// permit outweighs every block while its session lasts.
constexpr UINT8 permit_weight = 15;
constexpr UINT8 block_weight = 1;

wchar_t* text(const wchar_t* s) {
  return const_cast<wchar_t*>(s);
}

std::string failed(const char* what, DWORD code) {
  return std::string{"Windows Filtering Platform: "} + what
         + " failed: " + error_text(code);
}

} // namespace

struct crash_block::api {
  wfp::engine_open_fn engine_open = nullptr;
  wfp::engine_close_fn engine_close = nullptr;
  wfp::transaction_begin_fn begin = nullptr;
  wfp::transaction_fn commit = nullptr;
  wfp::transaction_fn abort = nullptr;
  wfp::sublayer_add_fn sublayer_add = nullptr;
  wfp::sublayer_delete_fn sublayer_delete = nullptr;
  wfp::filter_add_fn filter_add = nullptr;
  wfp::filter_delete_fn filter_delete = nullptr;
  wfp::filter_enum_open_fn enum_open = nullptr;
  wfp::filter_enum_fn enumerate = nullptr;
  wfp::filter_enum_close_fn enum_close = nullptr;
  wfp::app_id_fn app_id = nullptr;
  wfp::free_memory_fn free_memory = nullptr;
};

crash_block::crash_block(void* library) : library_{library} {}

crash_block::~crash_block() {
  if (api_ != nullptr) {
    if (live_ != nullptr)
      api_->engine_close(live_);
    if (store_ != nullptr)
      api_->engine_close(store_);
  }
  api_.reset();
  if (own_library_)
    FreeLibrary(static_cast<HMODULE>(library_));
}

std::string crash_block::load() {
  if (api_ != nullptr)
    return {};
  if (library_ == nullptr) {
    // System32's only: the engine is privileged, and a DLL of that name in
    // another folder is not Windows'.
    library_ = LoadLibraryExW(L"fwpuclnt.dll", nullptr,
                              LOAD_LIBRARY_SEARCH_SYSTEM32);
    if (library_ == nullptr)
      return failed("loading fwpuclnt.dll", GetLastError());
    own_library_ = true;
  }
  auto m = static_cast<HMODULE>(library_);
  auto a = std::make_unique<api>();
  std::string missing;
  bool ok = find_export(m, "FwpmEngineOpen0", a->engine_open, missing);
  ok = find_export(m, "FwpmEngineClose0", a->engine_close, missing) && ok;
  ok = find_export(m, "FwpmTransactionBegin0", a->begin, missing) && ok;
  ok = find_export(m, "FwpmTransactionCommit0", a->commit, missing) && ok;
  ok = find_export(m, "FwpmTransactionAbort0", a->abort, missing) && ok;
  ok = find_export(m, "FwpmSubLayerAdd0", a->sublayer_add, missing) && ok;
  ok = find_export(m, "FwpmSubLayerDeleteByKey0", a->sublayer_delete, missing)
       && ok;
  ok = find_export(m, "FwpmFilterAdd0", a->filter_add, missing) && ok;
  ok = find_export(m, "FwpmFilterDeleteById0", a->filter_delete, missing) && ok;
  ok = find_export(m, "FwpmFilterCreateEnumHandle0", a->enum_open, missing)
       && ok;
  ok = find_export(m, "FwpmFilterEnum0", a->enumerate, missing) && ok;
  ok = find_export(m, "FwpmFilterDestroyEnumHandle0", a->enum_close, missing)
       && ok;
  ok = find_export(m, "FwpmGetAppIdFromFileName0", a->app_id, missing) && ok;
  ok = find_export(m, "FwpmFreeMemory0", a->free_memory, missing) && ok;
  if (!ok)
    return "Windows Filtering Platform: fwpuclnt.dll lacks " + missing;
  api_ = std::move(a);
  return {};
}

std::string crash_block::hold() {
  if (held())
    return {};
  if (auto problem = load(); !problem.empty())
    return problem;
  FWPM_SESSION0 session{};
  session.displayData.name = text(L"Drover");
  session.displayData.description
      = text(L"Drover: keeps its programs offline if its engine is killed");
  HANDLE h = nullptr;
  if (auto code
      = api_->engine_open(nullptr, RPC_C_AUTHN_WINNT, nullptr, &session, &h);
      code != ERROR_SUCCESS)
    return failed("opening a session", code);
  FWPM_SUBLAYER0 sublayer{};
  sublayer.subLayerKey = drover_sublayer;
  sublayer.displayData.name = text(L"Drover");
  sublayer.displayData.description
      = text(L"Programs Drover captures, blocked while its engine is not "
             L"running between Start and Stop");
  sublayer.weight = 0x8000;
  auto code = api_->sublayer_add(h, &sublayer, nullptr);
  if (code != ERROR_SUCCESS
      && code != static_cast<DWORD>(FWP_E_ALREADY_EXISTS)) {
    api_->engine_close(h);
    return failed("adding Drover's sublayer", code);
  }
  store_ = h;
  return {};
}

std::string crash_block::lift() {
  if (lifted())
    return {};
  if (!held())
    return "Windows Filtering Platform: no session";
  FWPM_SESSION0 session{};
  session.displayData.name = text(L"Drover engine");
  session.flags = wfp::session_dynamic;
  HANDLE h = nullptr;
  if (auto code
      = api_->engine_open(nullptr, RPC_C_AUTHN_WINNT, nullptr, &session, &h);
      code != ERROR_SUCCESS)
    return failed("opening the engine's session", code);
  DWORD code = api_->begin(h, 0);
  for (const auto& layer : wfp::ale_layers) {
    if (code != ERROR_SUCCESS)
      break;
    FWPM_FILTER0 f{};
    f.displayData.name = text(L"Drover engine running");
    f.layerKey = layer;
    f.subLayerKey = drover_sublayer;
    f.weight.type = FWP_UINT8;
    f.weight.uint8 = permit_weight;
    f.action.type = FWP_ACTION_PERMIT;
    UINT64 id = 0;
    code = api_->filter_add(h, &f, nullptr, &id);
  }
  if (code == ERROR_SUCCESS)
    code = api_->commit(h);
  if (code != ERROR_SUCCESS) {
    api_->engine_close(h); // a dynamic session's objects go with it
    return failed("adding the engine's permit", code);
  }
  live_ = h;
  return {};
}

std::string crash_block::block_program(const std::string& path) {
  if (!lifted())
    return "Windows Filtering Platform: the engine's permit is not in place";
  FWP_BYTE_BLOB* app = nullptr;
  if (auto code = api_->app_id(to_wide(path).c_str(), &app);
      code != ERROR_SUCCESS) {
    if (code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND)
      return {}; // not there, so not running: nothing to block
    return failed(("naming " + path).c_str(), code);
  }
  FWPM_FILTER_CONDITION0 conditions[2]{};
  conditions[0].fieldKey = wfp::condition_app_id;
  conditions[0].matchType = FWP_MATCH_EQUAL;
  conditions[0].conditionValue.type = FWP_BYTE_BLOB_TYPE;
  conditions[0].conditionValue.byteBlob = app;
  // Its talk with itself and with Drover's listener stays: loopback never
  // leaves the computer.
  conditions[1].fieldKey = wfp::condition_flags;
  conditions[1].matchType = FWP_MATCH_FLAGS_NONE_SET;
  conditions[1].conditionValue.type = FWP_UINT32;
  conditions[1].conditionValue.uint32 = FWP_CONDITION_FLAG_IS_LOOPBACK;
  DWORD code = api_->begin(store_, 0);
  for (const auto& layer : wfp::ale_layers) {
    if (code != ERROR_SUCCESS)
      break;
    FWPM_FILTER0 f{};
    f.displayData.name = text(L"Drover: blocked while its engine is not "
                              L"running");
    f.layerKey = layer;
    f.subLayerKey = drover_sublayer;
    f.weight.type = FWP_UINT8;
    f.weight.uint8 = block_weight;
    f.numFilterConditions = 2;
    f.filterCondition = conditions;
    f.action.type = FWP_ACTION_BLOCK;
    UINT64 id = 0;
    code = api_->filter_add(store_, &f, nullptr, &id);
  }
  if (code == ERROR_SUCCESS)
    code = api_->commit(store_);
  else
    api_->abort(store_);
  void* blob = app;
  api_->free_memory(&blob);
  if (code != ERROR_SUCCESS)
    return failed(("blocking " + path).c_str(), code);
  return {};
}

// The filters with `action` in Drover's sublayer, whoever added them (a
// killed engine's blocks too).
std::string crash_block::filters_in_sublayer(std::vector<uint64_t>& ids,
                                             uint32_t action) {
  for (const auto& layer : wfp::ale_layers) {
    FWPM_FILTER_ENUM_TEMPLATE0 which{};
    which.layerKey = layer;
    which.enumType = FWP_FILTER_ENUM_OVERLAPPING;
    which.actionMask = 0xFFFFFFFF;
    HANDLE e = nullptr;
    if (auto code = api_->enum_open(store_, &which, &e); code != ERROR_SUCCESS)
      return failed("listing filters", code);
    for (;;) {
      FWPM_FILTER0** got = nullptr;
      UINT32 n = 0;
      auto code = api_->enumerate(store_, e, 64, &got, &n);
      if (code != ERROR_SUCCESS) {
        api_->enum_close(store_, e);
        return failed("listing filters", code);
      }
      for (UINT32 i = 0; i < n; ++i)
        if (wfp::same(got[i]->subLayerKey, drover_sublayer)
            && got[i]->action.type == action)
          ids.push_back(got[i]->filterId);
      void* p = got;
      api_->free_memory(&p);
      if (n < 64)
        break;
    }
    api_->enum_close(store_, e);
  }
  return {};
}

void crash_block::drop_permit() {
  if (live_ != nullptr) {
    api_->engine_close(live_); // a dynamic session's objects go with it
    live_ = nullptr;
  }
}

bool crash_block::permit_in_place() {
  std::vector<uint64_t> ids;
  return held() && filters_in_sublayer(ids, FWP_ACTION_PERMIT).empty()
         && !ids.empty();
}

std::string crash_block::release(size_t* removed) {
  if (!held())
    return {};
  std::vector<uint64_t> ids;
  auto problem = filters_in_sublayer(ids, FWP_ACTION_BLOCK);
  DWORD code = ERROR_SUCCESS;
  for (auto id : ids) {
    if (auto c = api_->filter_delete(store_, id); c != ERROR_SUCCESS)
      code = c;
    else if (removed != nullptr)
      ++*removed;
  }
  if (problem.empty() && code != ERROR_SUCCESS)
    problem = failed("removing a block", code);
  // Only then the permit: no moment where a block stands alone.
  drop_permit();
  if (problem.empty())
    api_->sublayer_delete(store_, &drover_sublayer); // in use: left
  api_->engine_close(store_);
  store_ = nullptr;
  return problem;
}

crash_keeper::crash_keeper(void* library) : block_{library} {
  problem_ = block_.hold();
}

void crash_keeper::capture_holds() {
  std::lock_guard<std::mutex> guard{mutex_};
  capturing_ = true;
  keep_locked();
}

void crash_keeper::capture_lost() {
  std::lock_guard<std::mutex> guard{mutex_};
  capturing_ = false;
  block_.drop_permit();
}

std::string crash_keeper::keep(std::vector<std::string> fresh) {
  std::lock_guard<std::mutex> guard{mutex_};
  unblocked_.insert(unblocked_.end(), fresh.begin(), fresh.end());
  keep_locked();
  return problem_;
}

void crash_keeper::keep_locked() {
  if (released_)
    return;
  std::string problem;
  if (!block_.held())
    problem = block_.hold();
  if (problem.empty() && capturing_)
    problem = block_.lift();
  if (problem.empty() && block_.lifted()) {
    // Each program tried: one Windows refuses holds no other back.
    std::vector<std::string> refused;
    for (auto& path : unblocked_)
      if (auto why = block_.block_program(path); !why.empty()) {
        problem = why;
        refused.push_back(std::move(path));
      }
    unblocked_ = std::move(refused);
  }
  problem_ = problem;
}

std::string crash_keeper::problem() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return problem_;
}

std::string crash_keeper::release() {
  std::lock_guard<std::mutex> guard{mutex_};
  capturing_ = false;
  released_ = true;
  unblocked_.clear();
  return block_.release();
}

bool crash_keeper::lifted() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return block_.lifted();
}

} // namespace drover::platform::windows_port
