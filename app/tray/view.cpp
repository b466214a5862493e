#include "app/tray/view.hpp"

#include <cstdio>

namespace drover::tray {

const char* to_string(icon x) {
  switch (x) {
    case icon::idle:
      return "idle";
    case icon::active:
      return "active";
    case icon::warning:
      return "warning";
    case icon::failed:
      return "failed";
  }
  return "idle";
}

icon icon_for(const engine_event& last, const stats_snapshot& stats) {
  switch (last.state) {
    case engine_state::idle:
    case engine_state::paused:
      return icon::idle;
    case engine_state::active:
      // Yellow too when voice cannot go through the proxy (TCP only), or
      // one of several proxies cannot be used.
      return stats.no_traffic || last.tcp_only || last.degraded ? icon::warning
                                                                : icon::active;
    case engine_state::starting:
    case engine_state::reconnecting:
      return icon::warning;
    case engine_state::failed:
      return icon::failed;
  }
  return icon::idle;
}

rates rates_between(const stats_snapshot& earlier, const stats_snapshot& later,
                    std::chrono::milliseconds elapsed) {
  rates r;
  if (elapsed.count() <= 0)
    return r;
  double seconds = static_cast<double>(elapsed.count()) / 1000.0;
  // Counters restart with the engine: a smaller value is a new run.
  auto delta = [](uint64_t a, uint64_t b) {
    return b >= a ? static_cast<double>(b - a) : static_cast<double>(b);
  };
  r.in = delta(earlier.bytes_in, later.bytes_in) / seconds;
  r.out = delta(earlier.bytes_out, later.bytes_out) / seconds;
  return r;
}

std::string rate_text(double bps) {
  char buf[32];
  if (bps < 1000)
    std::snprintf(buf, sizeof buf, "%.0f B/s", bps < 0 ? 0.0 : bps);
  else if (bps < 1e6)
    std::snprintf(buf, sizeof buf, "%.0f KB/s", bps / 1e3);
  else if (bps < 1e9)
    std::snprintf(buf, sizeof buf, "%.1f MB/s", bps / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.1f GB/s", bps / 1e9);
  return buf;
}

std::string uptime_text(std::chrono::seconds up) {
  auto s = up.count() < 0 ? 0 : up.count();
  if (s < 60)
    return std::to_string(s) + "s";
  if (s < 3600)
    return std::to_string(s / 60) + "m";
  if (s < 86400)
    return std::to_string(s / 3600) + "h " + std::to_string(s % 3600 / 60)
           + "m";
  return std::to_string(s / 86400) + "d " + std::to_string(s % 86400 / 3600)
         + "h";
}

std::string state_text(const engine_event& last, const stats_snapshot& stats) {
  switch (last.state) {
    case engine_state::idle:
      return "Idle";
    case engine_state::starting:
      return "Starting";
    case engine_state::active:
      return stats.no_traffic ? "Active (no traffic)"
             : last.tcp_only  ? "Active (TCP only: no voice)"
             : last.degraded  ? "Active (a proxy cannot be used)"
                              : "Active";
    case engine_state::reconnecting:
      return last.attempt > 0
                 ? "Reconnecting (attempt " + std::to_string(last.attempt) + ")"
                 : "Reconnecting";
    case engine_state::paused:
      return "Paused";
    case engine_state::failed:
      return "Failed";
  }
  return "Idle";
}

std::string tooltip(const engine_event& last, const stats_snapshot& stats) {
  constexpr size_t limit = 127;
  std::string text = "Drover: " + state_text(last, stats);
  if (!last.reason.empty())
    text += "\n" + last.reason;
  if (text.size() <= limit)
    return text;
  // Cut at the last space that leaves room for the ellipsis (3 bytes).
  auto cut = text.rfind(' ', limit - 3);
  if (cut == std::string::npos || cut < limit / 2)
    cut = limit - 3;
  // Never in the middle of a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return text.substr(0, cut) + "\u2026";
}

std::string status_row(const engine_event& last, const stats_snapshot& stats,
                       std::chrono::seconds uptime, const rates& r) {
  auto row = state_text(last, stats);
  if (last.state != engine_state::active)
    return row;
  return row + " \u00b7 " + uptime_text(uptime) + " \u00b7 \u2191 "
         + rate_text(r.out) + " \u2193 " + rate_text(r.in);
}

badge_colours badge_for(icon x) {
  switch (x) {
    case icon::active:
      return {"#2e7d32", "#ffffff"};
    case icon::warning:
      return {"#f9a825", "#212121"}; // dark text: white on amber is unreadable
    case icon::failed:
      return {"#c62828", "#ffffff"};
    case icon::idle:
      break;
  }
  return {"#757575", "#ffffff"};
}

headline_subject subject_of(const config::settings& s) {
  headline_subject who;
  std::vector<std::string> names;
  for (auto& r : s.rules) {
    if (r.action != config::rule_action::proxy)
      continue;
    auto name = !r.name.empty()      ? r.name
                : !r.apps.empty()    ? r.apps.front()
                : !r.paths.empty()   ? r.paths.front()
                : !r.folders.empty() ? r.folders.front()
                                     : std::string{};
    if (!name.empty())
      names.push_back(name);
  }
  if (names.size() == 1) {
    who.programs = names.front();
    who.one_program = true;
  } else if (names.size() == 2) {
    who.programs = names[0] + " and " + names[1];
  } else if (names.size() > 2) {
    who.programs = names[0] + " and " + std::to_string(names.size() - 1)
                   + " more programs";
  }
  if (s.proxies.size() == 1)
    who.proxy
        = s.proxies.front().host + ":" + std::to_string(s.proxies.front().port);
  else
    who.proxy = std::to_string(s.proxies.size()) + " proxies";
  who.direct_while_down
      = s.targets.when_not_proxying == config::not_proxying::direct;
  return who;
}

std::string headline(const engine_event& last, const stats_snapshot& stats,
                     const headline_subject& who) {
  auto traffic = who.one_program ? who.programs + "'s traffic"
                                 : "The traffic of " + who.programs;
  auto connections = who.one_program ? who.programs + "'s connections"
                                     : "The connections of " + who.programs;
  auto meanwhile = who.direct_while_down ? " go direct until it answers."
                                         : " wait until it answers.";
  switch (last.state) {
    case engine_state::idle:
      return "Drover is not proxying: choose Start proxying to send "
             + who.programs + " through " + who.proxy + ".";
    case engine_state::starting:
      return "Starting: checking " + who.proxy + ".";
    case engine_state::active:
      if (last.tcp_only)
        return connections + " go through " + who.proxy
               + ", but voice cannot: the proxy does not relay UDP.";
      if (last.degraded)
        return traffic
               + " goes through the proxies that answer; one cannot be used "
                 "now.";
      if (stats.no_traffic)
        return traffic + " goes through " + who.proxy
               + ", but nothing has moved for a while.";
      return traffic + " goes through " + who.proxy + ".";
    case engine_state::reconnecting:
      return "Drover cannot reach " + who.proxy + " and keeps trying"
             + (last.attempt > 0
                    ? " (attempt " + std::to_string(last.attempt) + ")"
                    : std::string{})
             + ". " + connections + meanwhile;
    case engine_state::paused:
      return "Paused while the computer sleeps; Drover picks up again when "
             "it wakes.";
    case engine_state::failed: {
      auto why
          = last.reason.empty() ? std::string{"see the Timeline"} : last.reason;
      return "Drover has stopped trying: " + why
             + (why.back() == '.' ? "" : ".");
    }
  }
  return {};
}

remedies remedies_for(const engine_event& last, const stats_snapshot&) {
  remedies r;
  switch (last.state) {
    case engine_state::failed:
    case engine_state::reconnecting:
      r.open_settings = true;
      r.run_check = true;
      break;
    case engine_state::active:
      r.run_check = last.tcp_only || last.degraded;
      break;
    case engine_state::idle:
    case engine_state::starting:
    case engine_state::paused:
      break;
  }
  return r;
}

primary_item primary_for(engine_state state) {
  switch (state) {
    case engine_state::idle:
      return {primary_action::start, "Start proxying"};
    case engine_state::failed:
      return {primary_action::retry, "Retry"};
    case engine_state::starting:
    case engine_state::active:
    case engine_state::reconnecting:
    case engine_state::paused:
      return {primary_action::stop, "Stop proxying"};
  }
  return {primary_action::start, "Start proxying"};
}

} // namespace drover::tray
