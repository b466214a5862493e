#pragma once

// A D-Bus daemon of the test's own (never the machine's system bus), for
// the stand-in logind (fake_logind.cpp) that emits PrepareForSleep.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace drover::e2e {

using drover::test::child;

// A private D-Bus daemon listening on a socket in the test's folder.
struct test_bus {
  std::unique_ptr<child> daemon;
  std::string address;

  explicit test_bus(const std::filesystem::path& dir) {
    auto conf = dir / "bus.conf";
    std::ofstream{conf}
        << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus "
           "Configuration 1.0//EN\" "
           "\"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
        << "<busconfig><type>custom</type>"
        << "<listen>unix:path=" << (dir / "bus.socket").string()
        << "</listen><auth>EXTERNAL</auth>"
        << "<policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/>"
        << "<allow send_destination=\"*\"/><allow receive_sender=\"*\"/>"
        << "</policy></busconfig>\n";
    daemon = std::make_unique<child>(std::vector<std::string>{
        "dbus-daemon", "--config-file=" + conf.string(), "--nofork",
        "--print-address"});
    if (daemon->wait_for_output("\n", std::chrono::seconds{10})) {
      auto out = daemon->output();
      address = out.substr(0, out.find('\n'));
    }
  }
};

// A stand-in logind on a bus of the test's own (needs dbus-daemon): the
// test makes it say "sleep" and "wake"; an engine finds it through `env`.
struct fake_logind {
  test_bus bus;
  std::unique_ptr<child> logind;
  std::string env; // for the engine's environment

  explicit fake_logind(const std::filesystem::path& dir)
      : bus(dir), env("DBUS_SYSTEM_BUS_ADDRESS=" + bus.address) {
    if (!bus.address.empty())
      logind = std::make_unique<child>(
          std::vector<std::string>{DROVER_FAKE_LOGIND, bus.address});
  }

  /// Up and listening; else what went wrong, for the test's message.
  std::string start_problem() {
    if (bus.address.empty())
      return "the bus did not start: " + bus.daemon->output();
    if (!logind->wait_for_output("ready", std::chrono::seconds{10}))
      return "the stand-in logind did not start: " + logind->output();
    return {};
  }
};

} // namespace drover::e2e
