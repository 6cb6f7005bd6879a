// PhoneKey: the keyed hash under which caregivers' phone numbers are stored and matched
// (HMAC-SHA256 with the secret from [roster] phone_key_*). The number itself is never stored.
#pragma once

#include <string>
#include <string_view>

namespace yuer::org {

class PhoneKey {
 public:
  // Requires: `secret` is not empty (config refuses shorter than 16 bytes).
  explicit PhoneKey(std::string secret) : secret_(std::move(secret)) {}

  // Lower-case hex HMAC-SHA256 of the 11-digit number. Throws std::runtime_error if OpenSSL fails.
  std::string hash(std::string_view digits) const;

 private:
  std::string secret_;
};

}  // namespace yuer::org
