// `drover check` against the real dante (and coturn as the STUN server) in
// the test's namespaces: what passes, and each failure named in words.

#include "tests/e2e/world.hpp"

using namespace drover::e2e;

namespace {

const std::string tcp_target = server_ip + ":7";
const std::string stun_target = server_ip + ":3478";

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_F(engine_e2e, check_passes_through_a_working_proxy) {
  auto stun = w->stun_server();
  auto [code, out] = w->check(
      {"--tcp-target", tcp_target, "--udp-target", stun_target, "--json"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(has(out, "\"ok\":true")) << out;
  for (std::string step :
       {std::string{"TCP connect"}, std::string{"greeting"},
        "CONNECT " + tcp_target, std::string{"UDP ASSOCIATE"},
        "UDP round trip via STUN " + stun_target})
    EXPECT_TRUE(has(out, "{\"name\":\"" + step + "\",\"ok\":true"))
        << step << "\n"
        << out;
  // The STUN server saw the datagram come from the proxy's relay, not from
  // the app: it really went through the proxy.
  EXPECT_TRUE(has(out, "saw the proxy's relay as " + proxy_ip + ":")) << out;
}

TEST_F(engine_e2e, check_names_a_udp_path_that_gets_no_answer) {
  // Nothing answers on port 3479.
  auto [code, out] = w->check({"--tcp-target", tcp_target, "--udp-target",
                               server_ip + ":3479", "--timeout", "1s"});
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(has(out, "  ok    CONNECT " + tcp_target)) << out;
  EXPECT_TRUE(has(out, "  ok    UDP ASSOCIATE")) << out;
  EXPECT_TRUE(has(out, "  FAIL  UDP round trip via STUN")) << out;
  EXPECT_TRUE(has(out, "Discord voice will likely not work")) << out;
}

TEST_F(engine_e2e, check_names_a_proxy_that_does_not_relay_udp) {
  auto stun = w->stun_server();
  auto tcp_only = w->other_proxy(
      1081, "socks block { from: 0.0.0.0/0 to: 0.0.0.0/0 "
            "command: udpassociate }\n"
            "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect }");
  auto [code, out]
      = w->check({"--tcp-target", tcp_target, "--udp-target", stun_target},
                 w->proxy_config(1081));
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(has(out, "  ok    CONNECT " + tcp_target)) << out;
  EXPECT_TRUE(has(out, "  FAIL  UDP ASSOCIATE")) << out;
  EXPECT_TRUE(has(out, "the proxy does not relay UDP")) << out;
  EXPECT_TRUE(has(out, "Discord voice will not work through it")) << out;
  EXPECT_TRUE(has(out, "TCP works through this proxy, but it does not relay "
                       "UDP (proxy refused: "))
      << "a refusal, not a proxy that is down: " << out;
}

TEST_F(engine_e2e, check_says_when_the_proxy_is_not_there) {
  auto [code, out] = w->check({"--timeout", "1s"}, w->proxy_config(1999));
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(has(out, "  FAIL  TCP connect")) << out;
  EXPECT_TRUE(has(out, "Connection refused")) << out;
  EXPECT_TRUE(has(out, "Drover cannot use this proxy")) << out;
  EXPECT_FALSE(has(out, "CONNECT "))
      << "nothing after the proxy failed: " << out;
}

namespace {

// A dante on proxy_ip:1082 that wants the login drovertest / s3cret-pass.
std::unique_ptr<child> proxy_with_login(world& w) {
  return w.other_proxy(1082,
                       "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 "
                       "command: connect udpassociate bind udpreply }",
                       "drovertest", "s3cret-pass");
}

} // namespace

TEST_F(engine_e2e, check_names_a_rejected_login_and_passes_the_right_one) {
  auto stun = w->stun_server();
  auto with_login = proxy_with_login(*w);
  auto login = [&](const std::string& password) {
    return w->proxy_config(1082, "auth = true\nlogin = \"drovertest\"\n"
                                 "password = \""
                                     + password + "\"\n");
  };
  auto [code, out]
      = w->check({"--tcp-target", tcp_target, "--udp-target", stun_target},
                 login("wrong-pass"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(has(out, "  FAIL  authentication")) << out;
  EXPECT_TRUE(has(out, "Authentication rejected")) << out;
  EXPECT_FALSE(has(out, "wrong-pass")) << "a password is never printed";
  std::tie(code, out)
      = w->check({"--tcp-target", tcp_target, "--udp-target", stun_target},
                 login("s3cret-pass"));
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(has(out, "  ok    authentication")) << out;
  EXPECT_FALSE(has(out, "s3cret-pass")) << "a password is never printed";
}

// The tray's Check goes through the engine (`check` on the control socket):
// only the engine has the password (`config get` shows a placeholder), so
// a proxy with a login is checked with the real one; a name no proxy has
// is named back.
TEST_F(engine_e2e, the_engine_checks_with_the_password_only_it_has) {
  auto stun = w->stun_server();
  auto with_login = proxy_with_login(*w);
  auto cfg = w->proxy_config(
      1082, "name = \"work\"\nauth = true\nlogin = \"drovertest\"\n"
            "password = \"s3cret-pass\"\n[check]\ntcp_target = \""
                + tcp_target + "\"\nudp_target = \"" + stun_target + "\"\n");
  child engine{{"ip", "netns", "exec", w->app.name(), DROVER_BINARY,
                "--headless", "--config", cfg.string()},
               w->env()};
  event_watch events{*w};
  ASSERT_TRUE(events.wait(became("active"), 20s)) << engine.output();
  auto script = control_client_script(w->dir);
  auto ask = [&](const std::string& command) {
    child c{{"ip", "netns", "exec", w->app.name(), "/usr/bin/python3",
             script.string(), w->control_socket(), command, ""}};
    c.wait(60s);
    return c.output();
  };
  EXPECT_TRUE(has(ask("config get"), "<stored password>"));
  auto out = ask("check");
  EXPECT_TRUE(has(out, "\"name\":\"work\",\"ok\":true")) << out;
  EXPECT_TRUE(has(out, "{\"name\":\"authentication\",\"ok\":true")) << out;
  EXPECT_FALSE(has(out, "s3cret-pass")) << "a password is never printed";
  out = ask("check work");
  EXPECT_TRUE(has(out, "\"ok\":true")) << out;
  out = ask("check home");
  EXPECT_TRUE(has(out, "error\nno proxy is called \"home\"; the proxies are "
                       "\"work\""))
      << out;
}
