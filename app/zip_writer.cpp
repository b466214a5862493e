#include "app/zip_writer.hpp"

#include <array>

namespace drover::cli {

namespace {

const std::array<uint32_t, 256>& crc_table() {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

void u16(std::string& o, uint32_t v) {
  o += static_cast<char>(v & 0xff);
  o += static_cast<char>((v >> 8) & 0xff);
}

void u32(std::string& o, uint32_t v) {
  u16(o, v & 0xffff);
  u16(o, v >> 16);
}

} // namespace

uint32_t crc32(const std::string& data) {
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : data)
    c = crc_table()[(c ^ static_cast<unsigned char>(ch)) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string zip_archive(const std::vector<zip_entry>& entries,
                        uint16_t dos_time, uint16_t dos_date) {
  constexpr uint32_t utf8_names = 0x0800; // general purpose flag bit 11
  std::string out, directory;
  for (auto& e : entries) {
    auto offset = static_cast<uint32_t>(out.size());
    auto crc = crc32(e.data);
    auto size = static_cast<uint32_t>(e.data.size());
    auto name_size = static_cast<uint32_t>(e.name.size());
    // The local header, then the data.
    u32(out, 0x04034b50);
    u16(out, 20); // version needed: 2.0
    u16(out, utf8_names);
    u16(out, 0); // stored
    u16(out, dos_time);
    u16(out, dos_date);
    u32(out, crc);
    u32(out, size); // compressed: the same
    u32(out, size);
    u16(out, name_size);
    u16(out, 0); // no extra field
    out += e.name;
    out += e.data;
    // Its central directory record.
    u32(directory, 0x02014b50);
    u16(directory, (3 << 8) | 20); // made by: Unix, 2.0 (permissions below)
    u16(directory, 20);
    u16(directory, utf8_names);
    u16(directory, 0);
    u16(directory, dos_time);
    u16(directory, dos_date);
    u32(directory, crc);
    u32(directory, size);
    u32(directory, size);
    u16(directory, name_size);
    u16(directory, 0);              // extra
    u16(directory, 0);              // comment
    u16(directory, 0);              // disk
    u16(directory, 0);              // internal attributes
    u32(directory, 0100600u << 16); // a regular file, 0600
    u32(directory, offset);
    directory += e.name;
  }
  auto directory_offset = static_cast<uint32_t>(out.size());
  out += directory;
  u32(out, 0x06054b50);
  u16(out, 0);
  u16(out, 0);
  u16(out, static_cast<uint32_t>(entries.size()));
  u16(out, static_cast<uint32_t>(entries.size()));
  u32(out, static_cast<uint32_t>(directory.size()));
  u32(out, directory_offset);
  u16(out, 0); // no comment
  return out;
}

} // namespace drover::cli
