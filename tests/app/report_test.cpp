// `drover report`'s archive: a ZIP that Python's zipfile (as any unzip)
// reads back whole, CRCs checked; and the config it carries without any
// login or password.

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "app/report.hpp"
#include "app/zip_writer.hpp"
#include "tests/support/netns.hpp"

using namespace drover::cli;
namespace fs = std::filesystem;

TEST(report_zip, crc32_is_ieee) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
}

TEST(report_zip, any_unzip_reads_it_back) {
  if (drover::test::sh("command -v python3 >/dev/null") != 0)
    GTEST_SKIP() << "needs python3";
  auto path = fs::temp_directory_path()
              / ("drover-report-test-" + std::to_string(::getpid()) + ".zip");
  std::string binary(300, '\0');
  for (size_t i = 0; i < binary.size(); ++i)
    binary[i] = static_cast<char>(i * 7);
  auto bytes = zip_archive({{"status.json", "{\"state\":\"active\"}\n"},
                            {"drover.log", binary},
                            {"empty.txt", ""}},
                           0x6000, 0x5984);
  std::ofstream{path, std::ios::binary}.write(
      bytes.data(), static_cast<std::streamsize>(bytes.size()));
  auto out = drover::test::sh_output(
      "python3 -c \"import zipfile,sys\n"
      "z=zipfile.ZipFile(sys.argv[1])\n"
      "assert z.testzip() is None\n"
      "print(z.namelist())\n"
      "print(z.read('status.json').decode(), end='')\n"
      "print(list(z.read('drover.log'))[:4], len(z.read('drover.log')))\n"
      "print(z.getinfo('status.json').date_time)\" "
      + path.string() + " 2>&1");
  fs::remove(path);
  EXPECT_NE(out.find("['status.json', 'drover.log', 'empty.txt']"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("{\"state\":\"active\"}"), std::string::npos) << out;
  EXPECT_NE(out.find("[0, 7, 14, 21] 300"), std::string::npos) << out;
  EXPECT_NE(out.find("(2024, 12, 4, 12, 0, 0)"), std::string::npos) << out;
}

TEST(report_config, logins_and_passwords_stay_out) {
  auto text = config_for_report(
      "[proxy]\nhost = \"192.0.2.1\"\nport = 1080\nauth = true\nlogin = "
      "\"alice\"\npassword = \"s3cret\"\n");
  EXPECT_EQ(text.find("alice"), std::string::npos) << text;
  EXPECT_EQ(text.find("s3cret"), std::string::npos) << text;
  EXPECT_NE(text.find("login = \"(hidden)\""), std::string::npos) << text;
  EXPECT_NE(text.find("host = \"192.0.2.1\""), std::string::npos) << text;
  auto broken = config_for_report("[proxy]\npassword = \"s3cret\"\nport = x\n");
  EXPECT_EQ(broken.find("s3cret"), std::string::npos) << broken;
  EXPECT_NE(broken.find("not included"), std::string::npos) << broken;
}
