#pragma once

// What tests/platform/recording_socks5.py said of the connections it
// accepted ("greeted N", "request N", "closed N", ...), for the tests of
// spare proxy connections (the relay's and the sessions').

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "tests/support/process.hpp"

namespace drover::test {

// What the recording proxy said of each connection it accepted, from its
// output: connection number -> the words ("greeted", "request", ...).
inline std::map<int, std::set<std::string>>
proxy_story(const std::string& output) {
  std::map<int, std::set<std::string>> story;
  std::istringstream lines{output};
  for (std::string line; std::getline(lines, line);) {
    auto space = line.rfind(' ');
    if (space != std::string::npos && line != "listening")
      story[std::stoi(line.substr(space + 1))].insert(line.substr(0, space));
  }
  return story;
}

// Greeted and not yet asked for anything: spares.
inline std::set<int> greeted_only(const std::string& output) {
  std::set<int> spares;
  for (auto& [n, words] : proxy_story(output))
    if (words == std::set<std::string>{"greeted"})
      spares.insert(n);
  return spares;
}

// Every connection the proxy accepted is closed (spares included).
inline bool every_connection_closed(const std::string& output) {
  for (auto& [n, words] : proxy_story(output))
    if (words.count("closed") == 0)
      return false;
  return true;
}

// The proxy numbers connections as it accepts them: one it accepted before
// this, the highest number so far, is older, whether or not its greeting
// has been printed yet (each connection has a thread of its own).
inline int newest_connection(const std::string& output) {
  auto story = proxy_story(output);
  return story.empty() ? 0 : story.rbegin()->first;
}

// Waits (bounded by `limit`) until `done` holds of the proxy's output.
template<class Predicate>
bool wait_for_story(child& proxy, Predicate done,
                    std::chrono::milliseconds limit
                    = std::chrono::seconds{10}) {
  for (auto i = limit / std::chrono::milliseconds{100}; i > 0; --i) {
    if (done(proxy.output()))
      return true;
    proxy.wait_for_output("\n", std::chrono::milliseconds{100},
                          proxy.output().size());
  }
  return done(proxy.output());
}

} // namespace drover::test
