#include "actors/platform/power_events.hpp"

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

namespace drover::platform {

namespace {

constexpr const wchar_t* window_class = L"DroverPowerEvents";

// How long the window procedure holds PBT_APMSUSPEND while the engine
// pauses. Windows waits for it (applications get about two seconds before
// the system suspends regardless), so the engine's own budget is shorter.
constexpr auto suspend_hold = std::chrono::milliseconds{1500};

} // namespace

// WM_POWERBROADCAST reaches top-level windows only (a message-only window
// never gets it), so the thread owns a hidden top-level window and runs
// its message loop; wait() takes the events it queues.
struct power_events::impl {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<event> events;
  bool holding_suspend = false; // the window procedure waits in PBT_APMSUSPEND
  bool ready = false;           // ready_to_sleep() came
  bool stopped = false;
  std::string error;
  HWND window = nullptr;
  std::thread thread;

  void push(event e) {
    std::lock_guard<std::mutex> guard{mutex};
    events.push_back(e);
    changed.notify_all();
  }

  void on_suspend() {
    std::unique_lock<std::mutex> guard{mutex};
    events.push_back(event::sleep);
    holding_suspend = true;
    ready = false;
    changed.notify_all();
    changed.wait_for(guard, suspend_hold, [&] { return ready || stopped; });
    holding_suspend = false;
  }

  static LRESULT CALLBACK procedure(HWND w, UINT msg, WPARAM wp, LPARAM lp) {
    auto* self = reinterpret_cast<impl*>(GetWindowLongPtrW(w, GWLP_USERDATA));
    if (msg == WM_POWERBROADCAST && self != nullptr) {
      if (wp == PBT_APMSUSPEND)
        self->on_suspend();
      // Sent on every resume, whatever woke the machine (the user or a
      // timer); PBT_APMRESUMESUSPEND may follow and would be a second wake.
      else if (wp == PBT_APMRESUMEAUTOMATIC)
        self->push(event::wake);
      return TRUE;
    }
    if (msg == WM_CLOSE) {
      DestroyWindow(w);
      return 0;
    }
    if (msg == WM_DESTROY) {
      PostQuitMessage(0);
      return 0;
    }
    return DefWindowProcW(w, msg, wp, lp);
  }

  void run(std::promise<void>& started);
};

void power_events::impl::run(std::promise<void>& started) {
  WNDCLASSEXW wc{};
  wc.cbSize = sizeof wc;
  wc.lpfnWndProc = procedure;
  wc.hInstance = GetModuleHandleW(nullptr);
  wc.lpszClassName = window_class;
  RegisterClassExW(&wc); // fails harmlessly when already registered
  auto title = L"Drover power events " + std::to_wstring(GetCurrentProcessId());
  window = CreateWindowExW(0, window_class, title.c_str(), WS_OVERLAPPED, 0, 0,
                           0, 0, nullptr, nullptr, wc.hInstance, nullptr);
  if (window == nullptr) {
    error = "cannot create the power notification window (Windows error "
            + std::to_string(GetLastError()) + ")";
    started.set_value();
    return;
  }
  SetWindowLongPtrW(window, GWLP_USERDATA, reinterpret_cast<LONG_PTR>(this));
  started.set_value();
  MSG msg;
  while (GetMessageW(&msg, nullptr, 0, 0) > 0) {
    TranslateMessage(&msg);
    DispatchMessageW(&msg);
  }
  push(event::stopped);
}

power_events::power_events() : impl_(std::make_unique<impl>()) {
  std::promise<void> started;
  auto ready = started.get_future();
  impl_->thread = std::thread{[this, &started] {
    impl_->run(started);
  }};
  ready.wait();
  if (!impl_->error.empty() && impl_->thread.joinable())
    impl_->thread.join();
}

power_events::~power_events() {
  stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

bool power_events::ok() const {
  return impl_->error.empty();
}

const std::string& power_events::error() const {
  return impl_->error;
}

power_events::event power_events::wait() {
  std::unique_lock<std::mutex> guard{impl_->mutex};
  impl_->changed.wait(guard,
                      [&] { return impl_->stopped || !impl_->events.empty(); });
  if (impl_->stopped)
    return event::stopped;
  auto e = impl_->events.front();
  impl_->events.pop_front();
  return e == event::stopped ? event::failed : e;
}

void power_events::ready_to_sleep() {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  impl_->ready = true;
  impl_->changed.notify_all();
}

void power_events::stop() {
  {
    std::lock_guard<std::mutex> guard{impl_->mutex};
    impl_->stopped = true;
    impl_->changed.notify_all();
  }
  if (impl_->window != nullptr)
    PostMessageW(impl_->window, WM_CLOSE, 0, 0);
}

} // namespace drover::platform
