// Decoding of the files coordinators upload: UTF-8 (with or without BOM) or GB18030 (what Excel
// in China writes when saving CSV), always to UTF-8. GB18030 goes through glibc's iconv.
#pragma once

#include "daemon/base/result.h"

#include <string>
#include <string_view>

namespace yuer::org {

struct Decoded {
  std::string text;      // UTF-8, without a BOM
  std::string encoding;  // "UTF-8", "UTF-8-BOM" or "GB18030"
};

// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// Valid UTF-8 (after an optional BOM) is kept; anything else is decoded as GB18030. Fails with
// Error{"import.bad_encoding", Chinese message} when the bytes are neither (e.g. UTF-16, binary
// data), and when the text holds a NUL byte. Throws std::runtime_error when iconv has no GB18030.
Result<Decoded> decode_to_utf8(std::string_view bytes);

}  // namespace yuer::org
