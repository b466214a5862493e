#pragma once

// A ZIP archive of stored (uncompressed) files, as `drover report` writes
// it: every system opens one without a tool (Windows' Explorer, macOS,
// `unzip`, Python's zipfile). Pure: bytes in, the archive's bytes out.

#include <cstdint>
#include <string>
#include <vector>

namespace drover::cli {

struct zip_entry {
  std::string name; // "status.json": a plain name, UTF-8
  std::string data;
};

/// CRC-32 (IEEE 802.3, as ZIP and gzip use it).
uint32_t crc32(const std::string& data);

/// The archive holding `entries` in order, each stored as it is, dated
/// `dos_time`/`dos_date` (MS-DOS format). Entries past 4 GiB are not
/// supported (a report's are kilobytes).
std::string zip_archive(const std::vector<zip_entry>& entries,
                        uint16_t dos_time = 0, uint16_t dos_date = 0x21);

} // namespace drover::cli
