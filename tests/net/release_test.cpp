// What an update checks before it runs anything: SHA-2 and Ed25519
// against their standards' vectors and against the system's own tools
// (sha256sum, sha512sum, OpenSSL signing with the release script), the
// signed SHA256SUMS, and release versions.

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "net/ed25519.hpp"
#include "net/release.hpp"
#include "net/sha2.hpp"
#ifndef _WIN32
#  include "tests/support/netns.hpp"
#endif

using namespace drover::net;

namespace {

#ifndef _WIN32
using drover::test::sh;
using drover::test::sh_output;

std::string temp_dir() {
  std::string d = sh_output("mktemp -d");
  while (!d.empty() && d.back() == '\n')
    d.pop_back();
  return d;
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream{path, std::ios::binary} << data;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string source_dir = DROVER_SOURCE_DIR;
#endif

template<size_t N>
std::array<uint8_t, N> bytes(std::string_view hex) {
  std::array<uint8_t, N> a{};
  EXPECT_TRUE(from_hex(hex, a.data(), N)) << hex;
  return a;
}

// RFC 8032 §7.1 TEST 2: one byte, 0x72.
constexpr const char* rfc_test2_key
    = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
constexpr const char* rfc_test2_signature
    = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e4"
      "3e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

} // namespace

TEST(sha2, the_standards_examples) {
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha512("abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

#ifndef _WIN32 // the system's tools and OpenSSL are Linux's here
TEST(sha2, agrees_with_the_systems_tools_at_every_block_edge) {
  std::mt19937 rng{7};
  std::string dir = temp_dir();
  // Around the padding's edges (55/56, 111/112 bytes) and multi-block.
  for (size_t size : {size_t{0}, size_t{1}, size_t{55}, size_t{56}, size_t{63},
                      size_t{64}, size_t{111}, size_t{112}, size_t{127},
                      size_t{128}, size_t{129}, size_t{1000}, size_t{100000}}) {
    std::string data(size, '\0');
    for (auto& c : data)
      c = static_cast<char>(rng());
    write_file(dir + "/data", data);
    std::string expect256
        = sh_output("sha256sum " + dir + "/data").substr(0, 64);
    std::string expect512
        = sh_output("sha512sum " + dir + "/data").substr(0, 128);
    EXPECT_EQ(to_hex(sha256(data)), expect256) << size << " bytes";
    EXPECT_EQ(to_hex(sha512(data)), expect512) << size << " bytes";
    // The same, given in uneven pieces.
    sha256_hasher h;
    for (size_t at = 0; at < size;) {
      size_t take = std::min<size_t>(1 + rng() % 97, size - at);
      h.add(data.data() + at, take);
      at += take;
    }
    EXPECT_EQ(to_hex(h.finish()), expect256) << size << " bytes in pieces";
  }
  sh("rm -rf " + dir);
}

#endif

TEST(ed25519, rfc_8032s_test_vectors) {
  // §7.1 TEST 1 (empty message) and TEST 2 (one byte, 0x72).
  auto key1 = bytes<32>(
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto sig1 = bytes<64>(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb882"
      "1590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(ed25519_verify(sig1, "", key1));
  auto key2 = bytes<32>(rfc_test2_key);
  auto sig2 = bytes<64>(rfc_test2_signature);
  EXPECT_TRUE(ed25519_verify(sig2, "\x72", key2));
  // Anything changed is refused: the message, the key, R, S.
  EXPECT_FALSE(ed25519_verify(sig2, "\x73", key2));
  EXPECT_FALSE(ed25519_verify(sig2, "\x72", key1));
  EXPECT_FALSE(ed25519_verify(sig1, "x", key1));
  for (size_t byte : {size_t{0}, size_t{31}, size_t{32}, size_t{63}}) {
    auto bent = sig2;
    bent[byte] ^= 0x01;
    EXPECT_FALSE(ed25519_verify(bent, "\x72", key2)) << "byte " << byte;
  }
}

TEST(ed25519, a_signature_with_s_beyond_the_order_is_refused) {
  auto key2 = bytes<32>(rfc_test2_key);
  auto sig2 = bytes<64>(rfc_test2_signature);
  // S + L is the same scalar mod L: malleable unless refused (RFC 8032
  // §5.1.7 step 1).
  auto bent = sig2;
  unsigned carry = 0;
  auto order = bytes<32>(
      "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  for (size_t i = 0; i < 32; ++i) {
    unsigned sum = bent[32 + i] + order[i] + carry;
    bent[32 + i] = static_cast<uint8_t>(sum);
    carry = sum >> 8;
  }
  EXPECT_FALSE(ed25519_verify(bent, "\x72", key2));
  // A key that is not a point, and a non-canonical y (2^255 - 1 > p).
  ed25519_public_key not_a_point{};
  not_a_point.fill(0xff);
  not_a_point[31] = 0x7f;
  EXPECT_FALSE(ed25519_verify(sig2, "\x72", not_a_point));
}

#ifndef _WIN32
TEST(ed25519, verifies_what_the_release_script_signs_with_openssl) {
  std::string dir = temp_dir();
  std::string key = source_dir + "/tests/data/update-test-key.pem";
  auto pub = release::parse_public_key(
      read_file(source_dir + "/tests/data/update-test-key.pub"));
  ASSERT_TRUE(pub);
  std::mt19937 rng{11};
  for (int round = 0; round < 8; ++round) {
    std::string installer(1 + rng() % 5000, '\0');
    for (auto& c : installer)
      c = static_cast<char>(rng());
    write_file(dir + "/Drover-1.2.3-win64-setup.exe", installer);
    write_file(dir + "/drover_1.2.3_amd64.deb", "deb " + std::to_string(round));
    ASSERT_EQ(sh(source_dir + "/scripts/sign-release.sh " + key + " " + dir
                 + "/Drover-1.2.3-win64-setup.exe " + dir
                 + "/drover_1.2.3_amd64.deb >/dev/null"),
              0);
    std::string sums = read_file(dir + "/SHA256SUMS");
    std::string sig = read_file(dir + "/SHA256SUMS.sig");
    std::string error;
    ASSERT_TRUE(release::verify_sums(sums, sig, *pub, error)) << error;
    auto list = release::parse_sums(sums, error);
    ASSERT_TRUE(list) << error;
    auto digest
        = release::digest_for(*list, "Drover-1.2.3-win64-setup.exe", error);
    ASSERT_TRUE(digest) << error;
    EXPECT_EQ(*digest, sha256(installer));
    // The list changed by one character: refused, and said so.
    std::string tampered = sums;
    tampered[rng() % 64] ^= 0x01;
    EXPECT_FALSE(release::verify_sums(tampered, sig, *pub, error));
    EXPECT_EQ(error, "SHA256SUMS is not signed with Drover's release key");
  }
  sh("rm -rf " + dir);
}

#endif

TEST(release, versions_as_tags_name_them) {
  using release::parse_version;
  ASSERT_TRUE(parse_version("v1.2.3"));
  EXPECT_EQ(parse_version("v1.2.3")->text(), "1.2.3");
  EXPECT_EQ(parse_version("0.10")->text(), "0.10.0");
  EXPECT_TRUE(*parse_version("0.9.9") < *parse_version("0.10.0"))
      << "numbers, not text";
  EXPECT_TRUE(*parse_version("1.2") == *parse_version("v1.2.0"));
  for (const char* bad : {"", "v", "1", "1.2.3.4", "1.2.3-rc1", "1..2", "1.2.",
                          "x1.2", "1.2.3 ", "1234567890.0", "-1.2"})
    EXPECT_FALSE(parse_version(bad)) << bad;
  release::version v{1, 4, 0};
  EXPECT_EQ(release::windows_installer_name(v), "Drover-1.4.0-win64-setup.exe");
  EXPECT_EQ(release::debian_package_name(v), "drover_1.4.0_amd64.deb");
}

TEST(release, a_checksum_list_is_read_line_by_line) {
  std::string error;
  std::string a(64, 'a'), b(64, 'B');
  auto list
      = release::parse_sums(a + "  one.exe\n" + b + " *two.deb\r\n\n", error);
  ASSERT_TRUE(list) << error;
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].name, "two.deb");
  EXPECT_EQ((*list)[1].digest[0], 0xbb);
  EXPECT_FALSE(release::digest_for(*list, "three.exe", error));
  EXPECT_EQ(error, "the signed SHA256SUMS does not list three.exe");

  struct bad {
    std::string text, error;
  };
  for (const auto& c : std::vector<bad>{
           {"", "SHA256SUMS names no file"},
           {a + "  one.exe\nnonsense\n",
            "SHA256SUMS line 2: not \"<SHA-256 in hexadecimal>  <file name>\""},
           {std::string(63, 'a') + "g  x.exe",
            "SHA256SUMS line 1: the digest is not 64 hexadecimal digits"},
           {a + "  ../x.exe", "SHA256SUMS line 1: the file name is not a plain "
                              "name"},
           {a + "  x.exe\n" + b + "  x.exe",
            "SHA256SUMS line 2: the file is named twice"},
           {std::string(release::max_sums_size + 1, 'a'),
            "SHA256SUMS is larger than 16384 bytes"},
       }) {
    EXPECT_FALSE(release::parse_sums(c.text, error)) << c.text.substr(0, 80);
    EXPECT_EQ(error, c.error);
  }
}

TEST(release, a_signature_that_is_not_one_is_said) {
  auto key = *release::parse_public_key(std::string(64, '0'));
  std::string error;
  EXPECT_FALSE(release::verify_sums("x", "abc", key, error));
  EXPECT_EQ(error,
            "SHA256SUMS.sig is not a signature (128 hexadecimal digits)");
  EXPECT_FALSE(release::verify_sums("x", std::string(300, 'a'), key, error));
  EXPECT_EQ(error, "SHA256SUMS.sig is not a signature (too long)");
  EXPECT_FALSE(release::parse_public_key("12"));
}
