// Updates against a stand-in Forgejo (tests/support/fake_forgejo.py, in a
// network namespace this test makes for itself): a newer release is
// offered, the same or an older one is not, a pre-release is not; an
// answer that is not JSON, a server that never answers, a file changed
// after signing and a list signed with another key are each refused with
// a sentence that says so, and nothing is left where the download went.
// The release's own files are made by the release script
// (scripts/sign-release.sh) with the tests' key.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <sched.h>

#include <QApplication>
#include <QDir>
#include <QEventLoop>
#include <QFile>
#include <QMenu>
#include <QTemporaryDir>
#include <QTimer>

#include "app/tray/update_flow.hpp"
#include "app/tray/updater.hpp"
#include "net/sha2.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/process.hpp"

using namespace drover;
using namespace drover::tray;
using namespace std::chrono_literals;

#ifdef __SANITIZE_ADDRESS__
// The menu test's QApplication loads the font stack, whose caches are
// never freed (fontconfig's own): only those are not reported; every other
// leak still is.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libfontconfig.so\n";
}
#endif

namespace {

const std::string source = DROVER_SOURCE_DIR;

QApplication& app() {
  static int argc = 1;
  static char name[] = "updater_test";
  static char* argv[] = {name, nullptr};
  // The menu's widgets without a display.
  static bool offscreen = qputenv("QT_QPA_PLATFORM", "offscreen");
  static auto* a = new QApplication{argc, argv};
  (void)offscreen;
  return *a;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

net::ed25519_public_key test_key() {
  return *net::release::parse_public_key(
      read_file(source + "/tests/data/update-test-key.pub"));
}

// The whole process in a network namespace of its own (before any thread
// starts): the stand-in server and the updater meet on its loopback, and
// the namespace goes with the process.
class own_network : public ::testing::Environment {
public:
  void SetUp() override {
    if (!test::is_root())
      return;
    if (::unshare(CLONE_NEWNET) == 0 && test::sh("ip link set lo up") == 0)
      isolated = true;
  }
  static inline bool isolated = false;
};
auto* const network = ::testing::AddGlobalTestEnvironment(new own_network);

struct outcome {
  enum { none, newer, up_to_date, ready, failed } kind = none;
  update_offer offer;
  QString text; // the latest version, the file's path or why it failed
};

// Runs the updater until it answers (bounded).
outcome await(updater& u, const std::function<void()>& start) {
  outcome o;
  QEventLoop loop;
  auto c1 = QObject::connect(&u, &updater::newer, [&](const update_offer& f) {
    o = {outcome::newer, f, {}};
    loop.quit();
  });
  auto c2 = QObject::connect(&u, &updater::up_to_date, [&](const QString& v) {
    o = {outcome::up_to_date, {}, v};
    loop.quit();
  });
  auto c3 = QObject::connect(&u, &updater::ready,
                             [&](const QString& p, const update_offer& f) {
                               o = {outcome::ready, f, p};
                               loop.quit();
                             });
  auto c4 = QObject::connect(&u, &updater::failed, [&](const QString& why) {
    o = {outcome::failed, {}, why};
    loop.quit();
  });
  QTimer::singleShot(30000, &loop, &QEventLoop::quit);
  // Started from the loop: an answer given at once still ends it.
  QTimer::singleShot(0, &loop, start);
  loop.exec();
  for (auto& c : {c1, c2, c3, c4})
    QObject::disconnect(c);
  return o;
}

class updates : public ::testing::Test {
protected:
  void SetUp() override {
    if (!own_network::isolated)
      GTEST_SKIP() << "needs root (a network namespace of its own)";
    app();
    server_ = std::make_unique<test::child>(std::vector<std::string>{
        "python3", source + "/tests/support/fake_forgejo.py", "--key",
        source + "/tests/data/update-test-key.pem", "--running", "0.1.0",
        "--newer", "99.1.0"});
    ASSERT_TRUE(server_->wait_for_output("listening ", 20s))
        << server_->output();
    auto out = server_->output();
    auto at = out.find("listening ");
    port_ = std::stoi(out.substr(at + 10));
  }

  QString repo(const char* scenario) const {
    return QStringLiteral("http://127.0.0.1:%1/drover/%2")
        .arg(port_)
        .arg(scenario);
  }

  std::unique_ptr<test::child> server_;
  int port_ = 0;
};

} // namespace

TEST(update_addresses, a_repository_name_becomes_its_api_address) {
  QString error;
  EXPECT_EQ(latest_release_url("git.okcu.io/root/drover-go", error).toString(),
            "https://git.okcu.io/api/v1/repos/root/drover-go/releases/latest");
  EXPECT_EQ(latest_release_url("http://127.0.0.1:3000/a/b/", error).toString(),
            "http://127.0.0.1:3000/api/v1/repos/a/b/releases/latest");
  EXPECT_EQ(latest_release_url("example.org/forgejo/a/b", error).toString(),
            "https://example.org/forgejo/api/v1/repos/a/b/releases/latest")
      << "a server below a path";
  for (const char* bad : {"", "drover-go", "host/only", "ftp://h/a/b",
                          "h/a b/c", "h/a/b?x=1", "h/a/../b#"}) {
    error.clear();
    EXPECT_TRUE(latest_release_url(bad, error).isEmpty()) << bad;
    EXPECT_TRUE(error.startsWith("[update] forgejo_repo")) << bad;
  }
}

// Only a copy the installer put in place (its Uninstall.exe beside it)
// installs an update into its folder; a portable copy is told where the
// new version is.
TEST(update_addresses, only_an_installed_copy_installs_updates) {
  QTemporaryDir folder;
  ASSERT_TRUE(folder.isValid());
  auto program = folder.filePath("drover.exe");
  QFile{program}.open(QIODevice::WriteOnly);
  EXPECT_FALSE(installed_copy(program)) << "portable";
  QFile{folder.filePath("Uninstall.exe")}.open(QIODevice::WriteOnly);
  EXPECT_TRUE(installed_copy(program));
  EXPECT_FALSE(installed_copy(folder.filePath("sub/drover.exe")));
}

TEST(update_addresses, only_a_newer_release_is_an_offer) {
  net::release::version running{1, 2, 3};
  QString error;
  auto json = [](const char* tag, const char* extra = "") {
    return QByteArray{"{\"tag_name\":\""} + tag + "\"" + extra
           + ",\"html_url\":\"https://h/r\",\"assets\":[{\"name\":"
             "\"SHA256SUMS\",\"browser_download_url\":\"https://h/s\"},"
             "{\"name\":\"x\",\"browser_download_url\":\"javascript:x\"}]}";
  };
  auto offer = read_latest_release(json("v1.3.0"), running, error);
  ASSERT_TRUE(offer) << error.toStdString();
  EXPECT_EQ(offer->version.text(), "1.3.0");
  EXPECT_EQ(offer->page.toString(), "https://h/r");
  EXPECT_EQ(offer->sums.toString(), "https://h/s");
  EXPECT_TRUE(offer->asset.isEmpty()) << "the release lacks this system's";
  EXPECT_FALSE(read_latest_release(json("v1.2.3"), running, error));
  EXPECT_FALSE(read_latest_release(json("1.0"), running, error));
  EXPECT_FALSE(read_latest_release(json("v2.0.0", ",\"prerelease\":true"),
                                   running, error));
  EXPECT_TRUE(error.isEmpty()) << "none of these is an error";
  EXPECT_FALSE(read_latest_release(json("nightly"), running, error));
  EXPECT_EQ(error, "the latest release's tag \"nightly\" is not a version "
                   "(like v1.2.3)");
  EXPECT_FALSE(read_latest_release("[1,2]", running, error));
  EXPECT_EQ(error, "the release server's answer is not a release (no "
                   "tag_name)");
}

TEST_F(updates, a_newer_release_is_offered_and_downloaded_checked) {
  updater u{test_key(), "0.1.0"};
  auto o = await(u, [&] { u.check(repo("newer")); });
  ASSERT_EQ(o.kind, outcome::newer) << o.text.toStdString();
  EXPECT_EQ(o.offer.version.text(), "99.1.0");
  EXPECT_EQ(o.offer.asset_name, asset_name_for_this_system({99, 1, 0}));
  EXPECT_EQ(o.offer.page.path(), "/drover/newer/releases/tag/v99.1.0");
  QTemporaryDir dir;
  auto d = await(u, [&] { u.download(o.offer, dir.path()); });
  ASSERT_EQ(d.kind, outcome::ready) << d.text.toStdString();
  EXPECT_EQ(d.text, QDir{dir.path()}.filePath(o.offer.asset_name));
  auto file = read_file(d.text.toStdString());
  EXPECT_EQ(d.offer.sha256.toStdString(), net::to_hex(net::sha256(file)));
  // The very file the server has.
  auto served
      = test::sh_output("curl -s http://127.0.0.1:" + std::to_string(port_)
                        + "/files/newer/" + o.offer.asset_name.toStdString());
  EXPECT_EQ(file, served);
}

TEST_F(updates, the_same_an_older_and_a_pre_release_are_not_offered) {
  updater u{test_key(), "0.1.0"};
  for (const char* scenario : {"same", "older", "prerelease"}) {
    auto o = await(u, [&] { u.check(repo(scenario)); });
    EXPECT_EQ(o.kind, outcome::up_to_date)
        << scenario << ": " << o.text.toStdString();
    EXPECT_EQ(o.text, "0.1.0");
  }
}

TEST_F(updates, what_is_not_a_release_is_said) {
  updater u{test_key(), "0.1.0"};
  auto o = await(u, [&] { u.check(repo("malformed")); });
  ASSERT_EQ(o.kind, outcome::failed);
  EXPECT_TRUE(o.text.startsWith("the release server's answer is not JSON (at "
                                "byte "))
      << o.text.toStdString();
  o = await(u, [&] { u.check(repo("huge")); });
  ASSERT_EQ(o.kind, outcome::failed);
  EXPECT_EQ(o.text, QStringLiteral("cannot ask for updates: 127.0.0.1 sent "
                                   "more than 1048576 bytes for /api/v1/"
                                   "repos/drover/huge/releases/latest"))
      << "an answer is read within its bound";
  o = await(u, [&] { u.check(repo("nobody")); });
  ASSERT_EQ(o.kind, outcome::failed);
  EXPECT_EQ(o.text, QStringLiteral("cannot ask for updates: 127.0.0.1 "
                                   "answered 404 for /api/v1/repos/drover/"
                                   "nobody/releases/latest"));
}

TEST_F(updates, a_server_that_never_answers_times_out) {
  updater u{test_key(), "0.1.0"};
  u.set_timeouts(2s, 2s);
  auto o = await(u, [&] { u.check(repo("hang")); });
  ASSERT_EQ(o.kind, outcome::failed);
  EXPECT_EQ(o.text, "cannot ask for updates: 127.0.0.1 did not answer within "
                    "2 s");
  EXPECT_FALSE(u.busy()) << "a next check may start";
}

TEST_F(updates, a_changed_file_or_a_foreign_signature_is_refused) {
  updater u{test_key(), "0.1.0"};
  QTemporaryDir dir;
  for (const char* scenario : {"tampered", "forged", "unsigned"}) {
    auto o = await(u, [&] { u.check(repo(scenario)); });
    ASSERT_EQ(o.kind, outcome::newer) << scenario;
    auto d = await(u, [&] { u.download(o.offer, dir.path()); });
    ASSERT_EQ(d.kind, outcome::failed) << scenario;
    std::string why = d.text.toStdString();
    if (std::string{scenario} == "tampered")
      EXPECT_EQ(why.find("the update 99.1.0 was refused: "
                         + o.offer.asset_name.toStdString()
                         + " is not the file the release signed (its "
                           "SHA-256 is "),
                0u)
          << why;
    else if (std::string{scenario} == "forged")
      EXPECT_EQ(why, "the update 99.1.0 was refused: SHA256SUMS is not "
                     "signed with Drover's release key");
    else
      EXPECT_EQ(why.find("the release 99.1.0 has no signed "), 0u) << why;
    EXPECT_TRUE(QDir{dir.path()}
                    .entryList(QDir::Files | QDir::Hidden | QDir::System)
                    .isEmpty())
        << scenario << ": nothing is left where the download went";
  }
}

#ifndef _WIN32
// The tray's side on Linux: the menu's item checks when asked; a newer
// release turns it into "Drover 99.1.0 is available…" and the message
// names the .deb and the release's page; the same version is said only
// when the user asked.
TEST_F(updates, linux_offers_the_deb_on_the_release_page) {
  QMenu menu;
  auto* about = menu.addAction("About Drover");
  std::vector<std::pair<QString, QSystemTrayIcon::MessageIcon>> told;
  bool quit = false;
  update_flow flow{
      menu, about,
      update_hooks{[&](const QString& text, QSystemTrayIcon::MessageIcon icon) {
                     told.emplace_back(text, icon);
                   },
                   [] { return false; },
                   [&] {
                     quit = true;
                   }},
      "0.1.0", "/usr/bin/drover"};
  ASSERT_EQ(menu.actions().indexOf(flow.action()), 0) << "above About";
  EXPECT_EQ(flow.action()->text(), "Check for updates…");
  auto wait_told = [&](size_t n) {
    QEventLoop loop;
    QTimer poll;
    QObject::connect(&poll, &QTimer::timeout, [&] {
      if (told.size() >= n)
        loop.quit();
    });
    poll.start(10);
    QTimer::singleShot(20000, &loop, &QEventLoop::quit);
    loop.exec();
    return told.size() >= n;
  };
  flow.configure(repo("same"), false);
  flow.action()->trigger();
  ASSERT_TRUE(wait_told(1));
  EXPECT_EQ(told[0].first, "Drover 0.1.0 is the latest version.");
  flow.configure(repo("newer"), false);
  flow.action()->trigger();
  ASSERT_TRUE(wait_told(2));
  EXPECT_EQ(
      told[1].first,
      QStringLiteral("Drover 99.1.0 is available: drover_99.1.0_amd64.deb "
                     "on http://127.0.0.1:%1/drover/newer/releases/tag/"
                     "v99.1.0")
          .arg(port_));
  EXPECT_EQ(told[1].second, QSystemTrayIcon::Information);
  EXPECT_EQ(flow.action()->text(), "Drover 99.1.0 is available…");
  EXPECT_FALSE(quit) << "Linux installs nothing itself";
}

// Before the engine answers (or when it never does), the config file
// itself decides: check_on_startup set, the check comes by itself and
// offers the newer release; a broken file changes nothing.
TEST_F(updates, the_startup_check_follows_the_config_file) {
  QMenu menu;
  std::vector<QString> told;
  update_flow flow{
      menu, nullptr,
      update_hooks{[&](const QString& text, QSystemTrayIcon::MessageIcon) {
                     told.push_back(text);
                   },
                   [] { return false; },
                   [] {
                   }},
      "0.1.0", "/usr/bin/drover"};
  QTemporaryDir dir;
  auto path = dir.filePath("config.toml");
  {
    std::ofstream broken{path.toStdString()};
    // Had it counted, its `false` would have ended the startup check.
    broken << "[update]\ncheck_on_startup = false\nforgejo_repo = 7\n";
  }
  flow.configure_from_file(path);
  {
    std::ofstream good{path.toStdString()};
    good << "[update]\ncheck_on_startup = true\nforgejo_repo = \""
         << repo("newer").toStdString() << "\"\n";
  }
  flow.configure_from_file(path);
  QEventLoop loop;
  QTimer poll;
  QObject::connect(&poll, &QTimer::timeout, [&] {
    if (!told.empty())
      loop.quit();
  });
  poll.start(20);
  QTimer::singleShot(20000, &loop, &QEventLoop::quit);
  loop.exec(); // the check comes 5 s after the configuration
  ASSERT_EQ(told.size(), 1u) << "no startup check";
  EXPECT_TRUE(told[0].startsWith("Drover 99.1.0 is available"))
      << told[0].toStdString();
}
#endif
