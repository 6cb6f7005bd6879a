#include "daemon/store/field_cipher.h"

#include "daemon/base/secure.h"
#include "daemon/store/store.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace yuer::store {
namespace {

constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

bool valid_id(std::string_view id) {
  return !id.empty() && id.size() <= 16 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t len = static_cast<std::size_t>(n);
  if (text.ends_with("==")) len -= 2;
  else if (text.ends_with('=')) len -= 1;
  out.resize(len);
  return out;
}

std::string hmac_hex(std::string_view key, std::string_view data, std::size_t hex_chars) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!::HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
              data.size(), mac, &len))
    throw std::runtime_error("HMAC-SHA256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len && out.size() < hex_chars; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  return out;
}

[[noreturn]] void unreadable(std::string code, std::string_view column, std::string_view id, std::string_view why) {
  throw StoreError(std::move(code), fmt::format("{}: a value sealed under field key \"{}\" {}", column, id, why));
}

}  // namespace

Result<std::shared_ptr<const FieldCipher>> FieldCipher::create(std::vector<FieldKey> keys) {
  if (keys.empty()) return fail("privacy.bad_key", "no field key");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!valid_id(keys[i].id))
      return fail("privacy.bad_key", fmt::format("key {}: the id must be 1 to 16 of A-Z, a-z, 0-9, _ and -", i + 1));
    if (keys[i].key.size() != kKeyBytes)
      return fail("privacy.bad_key", fmt::format("key {} (\"{}\"): expected {} bytes, got {}", i + 1, keys[i].id,
                                                 kKeyBytes, keys[i].key.size()));
    for (std::size_t j = 0; j < i; ++j)
      if (keys[j].id == keys[i].id)
        return fail("privacy.bad_key", fmt::format("key id \"{}\" appears twice", keys[i].id));
  }
  return std::shared_ptr<const FieldCipher>(new FieldCipher(std::move(keys)));
}

Result<std::shared_ptr<const FieldCipher>> FieldCipher::parse(std::string_view text) {
  std::vector<FieldKey> keys;
  for (const auto& [line_no, id, hex] : key_file_lines(text)) {
    if (!valid_id(id) || hex.size() != 2 * kKeyBytes)
      return fail("privacy.bad_key",
                  fmt::format("line {}: expected \"<id> <64 hex digits>\" (id: 1 to 16 of A-Z, a-z, 0-9, _ and -)", line_no));
    FieldKey k;
    k.id = std::string(id);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
      const int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
      if (hi < 0 || lo < 0) return fail("privacy.bad_key", fmt::format("line {}: the key is not 64 hex digits", line_no));
      k.key.push_back(static_cast<char>(hi * 16 + lo));
    }
    keys.push_back(std::move(k));
  }
  if (keys.empty()) return fail("privacy.bad_key", "no key line (\"<id> <64 hex digits>\")");
  return create(std::move(keys));
}

std::vector<std::string> FieldCipher::key_ids() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) out.push_back(k.id);
  return out;
}

const FieldKey* FieldCipher::find(std::string_view id) const {
  for (const auto& k : keys_)
    if (k.id == id) return &k;
  return nullptr;
}

std::string FieldCipher::seal(std::string_view plain, std::string_view column) const {
  if (plain.empty()) return {};
  const FieldKey& key = keys_.front();
  std::string blob = random_bytes(kNonceBytes);
  blob.resize(kNonceBytes + plain.size() + kTagBytes);
  auto* out = reinterpret_cast<unsigned char*>(blob.data());
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0, fin = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, reinterpret_cast<const unsigned char*>(key.key.data()),
                         out) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(column.data()),
                        static_cast<int>(column.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out + kNonceBytes, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + kNonceBytes + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          out + kNonceBytes + plain.size()) != 1)
    throw std::runtime_error("AES-256-GCM encryption failed");
  return std::string(kSealedPrefix) + key.id + ":" + base64(blob);
}

std::string FieldCipher::open(std::string_view stored, std::string_view column) const {
  if (!is_sealed(stored)) return std::string(stored);
  auto id = sealed_key_id(stored);
  if (!id) unreadable("store.corrupt", column, "?", "is malformed (no key id)");
  const FieldKey* key = find(*id);
  if (!key)
    unreadable("store.key", column, *id,
               "cannot be opened: that key is not in [privacy] field_key_* (keep old keys in the file until the "
               "store is re-sealed)");
  auto blob = unbase64(stored.substr(kSealedPrefix.size() + id->size() + 1));
  if (!blob || blob->size() < kNonceBytes + kTagBytes) unreadable("store.corrupt", column, *id, "is malformed");
  const std::size_t n = blob->size() - kNonceBytes - kTagBytes;
  auto* in = reinterpret_cast<unsigned char*>(blob->data());
  std::string plain(n, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0, fin = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, reinterpret_cast<const unsigned char*>(key->key.data()),
                         in) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(column.data()),
                        static_cast<int>(column.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, in + kNonceBytes,
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), in + kNonceBytes + n) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &fin) != 1)
    unreadable("store.corrupt", column, *id,
               "does not authenticate (its bytes were changed, or the key under that id is not the one it was "
               "sealed with)");
  return plain;
}

std::string FieldCipher::index(std::string_view domain, std::string_view value) const {
  const std::string derived = hmac_hex(keys_.front().key, "yuer field index v1", 64);
  return hmac_hex(derived, std::string(domain) + '\0' + std::string(value), 32);
}

std::optional<std::string> sealed_key_id(std::string_view stored) {
  if (!is_sealed(stored)) return std::nullopt;
  const auto rest = stored.substr(kSealedPrefix.size());
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  return std::string(rest.substr(0, colon));
}

std::string seal_field(const FieldCipher* cipher, std::string_view plain, std::string_view column) {
  return cipher ? cipher->seal(plain, column) : std::string(plain);
}

std::string open_field(const FieldCipher* cipher, std::string_view stored, std::string_view column) {
  if (cipher) return cipher->open(stored, column);
  if (is_sealed(stored))
    throw StoreError("store.key", fmt::format("{}: the store holds sealed values but no [privacy] field_key_* is "
                                              "configured",
                                              column));
  return std::string(stored);
}

}  // namespace yuer::store
