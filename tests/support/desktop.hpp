#pragma once

// A desktop for GUI tests: Xvfb (display number chosen by the server) with
// trayer as the system tray host; screenshots and input through ImageMagick
// and xdotool. Everything it starts stops with it.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/eventually.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/process.hpp"

namespace drover::test {

struct rect {
  int x = 0, y = 0, width = 0, height = 0;
};

class desktop {
public:
  desktop() {
    // Parallel tests start X servers at the same moment; a server that
    // loses a race for its display number is started again (at most 3).
    for (int attempt = 0; attempt < 3 && !ready(); ++attempt)
      start();
  }

  void start() {
    using namespace std::chrono_literals;
    trayer_.reset();
    xvfb_.reset();
    display_.clear();
    xvfb_ = std::make_unique<child>(
        std::vector<std::string>{"Xvfb", "-displayfd", "1", "-screen", "0",
                                 "1024x640x24", "-ac", "-nolisten", "tcp"});
    // Xvfb writes its display number once it accepts clients.
    std::smatch m;
    size_t seen = 0; // wait for lines after those already looked at
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline && xvfb_->running()) {
      xvfb_->wait_for_output("\n", 1s, seen);
      auto out = xvfb_->output();
      seen = out.size();
      if (std::regex_search(out, m, std::regex{"(^|\n)(\\d+)\n"})) {
        display_ = ":" + m[2].str();
        break;
      }
    }
    if (display_.empty())
      return;
    trayer_ = std::make_unique<child>(
        std::vector<std::string>{"trayer", "--edge", "top", "--align", "right",
                                 "--widthtype", "request", "--height", "32",
                                 "--SetDockType", "true", "--transparent",
                                 "false", "--tint", "0x404040"},
        env());
    // trayer has no readiness signal: look for its window (bounded).
    for (int i = 0; i < 100 && trayer_->running() && !tray_area(); ++i)
      std::this_thread::sleep_for(100ms);
  }

  bool ready() const {
    return !display_.empty() && xvfb_ && tray_area().has_value();
  }

  /// What Xvfb and trayer said, for a failed ready().
  std::string diagnostics() {
    return "display '" + display_
           + "'\nXvfb: " + (xvfb_ ? xvfb_->output() : std::string{})
           + "\ntrayer: " + (trayer_ ? trayer_->output() : std::string{});
  }

  const std::string& display() const { return display_; }

  std::vector<std::string> env() const { return {"DISPLAY=" + display_}; }

  /// A command with this display.
  std::string x(const std::string& cmd) const {
    return sh_output("DISPLAY=" + display_ + " " + cmd + " 2>/dev/null");
  }

  /// Where trayer shows the icons.
  std::optional<rect> tray_area() const {
    auto ids = x("xdotool search --onlyvisible --class trayer");
    std::istringstream in{ids};
    std::string id;
    std::optional<rect> best;
    while (in >> id) {
      auto g = x("xdotool getwindowgeometry --shell " + id);
      std::map<std::string, int> v;
      static const std::regex field{"(\\w+)=(-?\\d+)"};
      for (auto it = std::sregex_iterator(g.begin(), g.end(), field);
           it != std::sregex_iterator(); ++it)
        v[(*it)[1]] = std::stoi((*it)[2]);
      if (v["WIDTH"] > 1 && v["HEIGHT"] > 1
          && (!best || v["WIDTH"] * v["HEIGHT"] > best->width * best->height))
        best = rect{v["X"], v["Y"], v["WIDTH"], v["HEIGHT"]};
    }
    return best;
  }

  /// The tray icon's colour: "green", "yellow", "red", "grey" (the state
  /// icons' fills), or "none" when no icon shows.
  std::string icon_colour() const {
    auto area = tray_area();
    if (!area)
      return "none";
    auto text
        = x("import -window root -crop " + std::to_string(area->width) + "x"
            + std::to_string(area->height) + "+" + std::to_string(area->x) + "+"
            + std::to_string(area->y) + " txt:-");
    std::map<std::string, int> count;
    static const std::regex pixel{"\\((\\d+),(\\d+),(\\d+)"};
    for (auto it = std::sregex_iterator(text.begin(), text.end(), pixel);
         it != std::sregex_iterator(); ++it) {
      int r = std::stoi((*it)[1]), g = std::stoi((*it)[2]),
          b = std::stoi((*it)[3]);
      if (g > 120 && r < 100 && b < 120)
        ++count["green"];
      else if (r > 200 && g > 150 && b < 80)
        ++count["yellow"];
      else if (r > 180 && g < 90 && b < 90)
        ++count["red"];
      else if (r > 130 && r < 190 && std::abs(r - g) < 8 && std::abs(g - b) < 8)
        ++count["grey"];
    }
    std::string best = "none";
    int most = 20; // a few stray pixels are no icon
    for (auto& [name, n] : count)
      if (n > most) {
        best = name;
        most = n;
      }
    return best;
  }

  /// Waits (bounded) until the icon shows `colour`.
  bool wait_icon(const std::string& colour, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    do {
      if (icon_colour() == colour)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }

  void click_icon(int button) {
    auto area = tray_area();
    if (!area)
      return;
    x("xdotool mousemove " + std::to_string(area->x + area->width / 2) + " "
      + std::to_string(area->y + area->height / 2) + " click "
      + std::to_string(button));
  }

  /// The visible windows of class `cls`, or (given) titled `name` (a
  /// regular expression).
  std::vector<std::string> windows(const std::string& cls,
                                   const std::string& name = "") const {
    auto ids = x("xdotool search --onlyvisible "
                 + (name.empty() ? "--class " + cls : "--name '" + name + "'"));
    std::istringstream in{ids};
    std::vector<std::string> out;
    for (std::string id; in >> id;)
      out.push_back(id);
    return out;
  }

  /// Waits (bounded) until `condition()` holds (X has no event for it).
  template<class F>
  bool wait_until(F&& condition, std::chrono::milliseconds limit) {
    return eventually(std::forward<F>(condition), limit,
                      std::chrono::milliseconds{100});
  }

  void keys(const std::string& keys) { x("xdotool key --delay 60 " + keys); }

  /// Saves the screen (or a part) as PNG.
  void screenshot(const std::filesystem::path& to,
                  std::optional<rect> part = std::nullopt) const {
    std::string crop;
    if (part)
      crop = " -crop " + std::to_string(part->width) + "x"
             + std::to_string(part->height) + "+" + std::to_string(part->x)
             + "+" + std::to_string(part->y) + " +repage";
    x("import -window root" + crop + " " + to.string());
  }

private:
  std::unique_ptr<child> xvfb_;
  std::unique_ptr<child> trayer_;
  std::string display_;
};

} // namespace drover::test
