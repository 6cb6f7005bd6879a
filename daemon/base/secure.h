// Small security primitives shared by the core and the adapters.
#pragma once

#include <string>
#include <string_view>

namespace yuer {

// Compares two byte strings in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

// `n` bytes from OpenSSL's CSPRNG. Throws std::runtime_error if the generator fails.
std::string random_bytes(std::size_t n);

// Lower-case hex SHA-256 of `data` (for dedupe keys and stored token hashes, not for secrets at rest).
std::string sha256_hex(std::string_view data);

}  // namespace yuer
