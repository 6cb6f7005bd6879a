// Small security primitives shared by the core and the adapters.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace yuer {

// Compares two byte strings in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

// `n` bytes from OpenSSL's CSPRNG. Throws std::runtime_error if the generator fails.
std::string random_bytes(std::size_t n);

// Lower-case hex SHA-256 of `data` (for dedupe keys and stored token hashes, not for secrets at rest).
std::string sha256_hex(std::string_view data);

// One "<name> <value>" line of a key file (robot keys, field keys): `value` is what follows the
// first run of spaces or tabs, both trimmed; empty when the line has only a name.
struct KeyFileLine {
  std::size_t line_no = 0;  // 1-based
  std::string_view name;
  std::string_view value;
};

// The lines of a key file that are neither blank nor comments (# first), split as above. CR LF line
// ends are accepted. The views point into `text`.
std::vector<KeyFileLine> key_file_lines(std::string_view text);

}  // namespace yuer
