#include "daemon/org/phone_key.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace yuer::org {

std::string PhoneKey::hash(std::string_view digits) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!::HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
              reinterpret_cast<const unsigned char*>(digits.data()), digits.size(), mac, &len))
    throw std::runtime_error("HMAC-SHA256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0x0F]);
  }
  return out;
}

}  // namespace yuer::org
