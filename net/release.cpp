#include "net/release.hpp"

#include <tuple>

namespace drover::net::release {

std::string version::text() const {
  return std::to_string(major) + "." + std::to_string(minor) + "."
         + std::to_string(patch);
}

bool version::operator<(const version& o) const {
  return std::tie(major, minor, patch) < std::tie(o.major, o.minor, o.patch);
}

bool version::operator==(const version& o) const {
  return std::tie(major, minor, patch) == std::tie(o.major, o.minor, o.patch);
}

std::optional<version> parse_version(std::string_view text) {
  if (!text.empty() && (text[0] == 'v' || text[0] == 'V'))
    text.remove_prefix(1);
  uint32_t parts[3] = {0, 0, 0};
  size_t count = 0;
  size_t i = 0;
  while (true) {
    if (count == 3 || i == text.size() || text[i] < '0' || text[i] > '9')
      return std::nullopt;
    uint64_t n = 0;
    size_t digits = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (++digits > 9)
        return std::nullopt;
      n = n * 10 + static_cast<uint64_t>(text[i] - '0');
    }
    parts[count++] = static_cast<uint32_t>(n);
    if (i == text.size())
      break;
    if (text[i] != '.')
      return std::nullopt;
    ++i;
  }
  if (count < 2)
    return std::nullopt;
  return version{parts[0], parts[1], parts[2]};
}

std::string windows_installer_name(const version& v) {
  return "Drover-" + v.text() + "-win64-setup.exe";
}

std::string debian_package_name(const version& v) {
  return "drover_" + v.text() + "_amd64.deb";
}

namespace {

bool printable_name(std::string_view name) {
  if (name.empty() || name.size() > 200)
    return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '/' || c == '\\')
      return false;
  }
  return true;
}

} // namespace

std::optional<std::vector<sums_entry>> parse_sums(std::string_view text,
                                                  std::string& error) {
  if (text.size() > max_sums_size) {
    error = "SHA256SUMS is larger than " + std::to_string(max_sums_size)
            + " bytes";
    return std::nullopt;
  }
  std::vector<sums_entry> out;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty())
      continue;
    auto fail = [&](const char* what) {
      error = "SHA256SUMS line " + std::to_string(line_number) + ": " + what;
      return std::nullopt;
    };
    if (line.size() < 67 || line[64] != ' '
        || (line[65] != ' ' && line[65] != '*'))
      return fail("not \"<SHA-256 in hexadecimal>  <file name>\"");
    sums_entry e;
    if (!from_hex(line.substr(0, 64), e.digest.data(), e.digest.size()))
      return fail("the digest is not 64 hexadecimal digits");
    e.name = std::string{line.substr(66)};
    if (!printable_name(e.name))
      return fail("the file name is not a plain name");
    for (const auto& seen : out)
      if (seen.name == e.name)
        return fail("the file is named twice");
    out.push_back(std::move(e));
  }
  if (out.empty()) {
    error = "SHA256SUMS names no file";
    return std::nullopt;
  }
  return out;
}

bool verify_sums(std::string_view sums, std::string_view signature_text,
                 const ed25519_public_key& key, std::string& error) {
  if (signature_text.size() > max_signature_size) {
    error = "SHA256SUMS.sig is not a signature (too long)";
    return false;
  }
  while (!signature_text.empty()
         && (signature_text.back() == '\n' || signature_text.back() == '\r'
             || signature_text.back() == ' '))
    signature_text.remove_suffix(1);
  ed25519_signature signature;
  if (!from_hex(signature_text, signature.data(), signature.size())) {
    error = "SHA256SUMS.sig is not a signature (128 hexadecimal digits)";
    return false;
  }
  if (!ed25519_verify(signature, sums, key)) {
    error = "SHA256SUMS is not signed with Drover's release key";
    return false;
  }
  return true;
}

std::optional<sha256_digest> digest_for(const std::vector<sums_entry>& sums,
                                        std::string_view name,
                                        std::string& error) {
  for (const auto& e : sums)
    if (e.name == name)
      return e.digest;
  error = "the signed SHA256SUMS does not list " + std::string{name};
  return std::nullopt;
}

std::optional<ed25519_public_key> parse_public_key(std::string_view hex) {
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' '))
    hex.remove_suffix(1);
  ed25519_public_key key;
  if (!from_hex(hex, key.data(), key.size()))
    return std::nullopt;
  return key;
}

} // namespace drover::net::release
