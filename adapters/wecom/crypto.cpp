#include "adapters/wecom/crypto.h"

#include "daemon/base/secure.h"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>

namespace yuer::adapters::wecom {
namespace {

constexpr std::size_t kKeyChars = 43;
constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kRandomBytes = 16;
constexpr std::size_t kLengthBytes = 4;
constexpr std::size_t kAesBlock = 16;
// WeCom pads to 32 bytes, not AES's 16 (§1.1); OpenSSL's own padding stays off.
constexpr std::size_t kPadBlock = 32;

// Multiples of 3 (encode) and 4 (decode) so chunks never split a base64 group.
constexpr std::size_t kEncodeChunk = 3 * 1024 * 1024;
constexpr std::size_t kDecodeChunk = 4 * 1024 * 1024;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// Result<std::string> cannot be built implicitly from a std::string: under C++20 the aggregate
// Error is paren-constructible from a string too, so Boost disables the implicit conversion.
Result<std::string> ok(std::string s) { return Result<std::string>(boost::system::in_place_value, std::move(s)); }

bool is_alnum_ascii(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_base64_char(char c) { return is_alnum_ascii(c) || c == '+' || c == '/'; }

std::string hex_lower(const unsigned char* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 15];
  }
  return out;
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// AES-256-CBC with IV = key[0..16) and no OpenSSL padding. Requires in.size() % 16 == 0.
// nullopt when OpenSSL refuses the operation.
std::optional<std::string> aes_cbc(bool encrypt, const std::string& key, std::string_view in) {
  if (in.size() > static_cast<std::size_t>(INT_MAX) - kAesBlock) return std::nullopt;
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw std::bad_alloc();
  const unsigned char* k = bytes(key);
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, k, k, encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1)
    return std::nullopt;
  std::string out(in.size() + kAesBlock, '\0');
  int n = 0;
  int tail = 0;
  if (EVP_CipherUpdate(ctx.get(), bytes(out), &n, bytes(in), static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), bytes(out) + n, &tail) != 1)
    return std::nullopt;
  out.resize(static_cast<std::size_t>(n) + static_cast<std::size_t>(tail));
  return out;
}

void append_be32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xff));
  out.push_back(static_cast<char>((v >> 16) & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

std::uint32_t read_be32(std::string_view s) {
  return (std::uint32_t{static_cast<unsigned char>(s[0])} << 24) |
         (std::uint32_t{static_cast<unsigned char>(s[1])} << 16) |
         (std::uint32_t{static_cast<unsigned char>(s[2])} << 8) | std::uint32_t{static_cast<unsigned char>(s[3])};
}

// CDATA cannot contain "]]>"; split it across two sections so any text survives.
std::string cdata(std::string_view text) {
  std::string out = "<![CDATA[";
  for (std::size_t pos = 0;;) {
    auto hit = text.find("]]>", pos);
    if (hit == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, hit + 2 - pos));
    out.append("]]><![CDATA[");
    pos = hit + 2;
  }
  out.append("]]>");
  return out;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t pos = 0; pos < in.size(); pos += kEncodeChunk) {
    auto chunk = in.substr(pos, kEncodeChunk);
    std::string buf((chunk.size() + 2) / 3 * 4 + 1, '\0');  // EVP_EncodeBlock writes a trailing NUL
    int n = EVP_EncodeBlock(bytes(buf), bytes(chunk), static_cast<int>(chunk.size()));
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  // EVP_DecodeBlock alone would accept surrounding whitespace and count '=' as data (§1.9.2),
  // so the shape is checked here and the padding subtracted afterwards.
  if (text.size() % 4 != 0) return fail("crypto.bad_base64", "base64 text length is not a multiple of 4");
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  if (!std::all_of(text.begin(), text.end() - static_cast<std::ptrdiff_t>(pad), is_base64_char))
    return fail("crypto.bad_base64", "base64 text contains a character outside [A-Za-z0-9+/] or misplaced '='");

  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t pos = 0; pos < text.size(); pos += kDecodeChunk) {
    auto chunk = text.substr(pos, kDecodeChunk);
    std::string buf(chunk.size() / 4 * 3 + 1, '\0');
    int n = EVP_DecodeBlock(bytes(buf), bytes(chunk), static_cast<int>(chunk.size()));
    if (n < 0 || static_cast<std::size_t>(n) != chunk.size() / 4 * 3)
      return fail("crypto.bad_base64", "base64 text could not be decoded");
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  out.resize(out.size() - pad);
  return ok(std::move(out));
}

Result<MsgCrypt> MsgCrypt::create(std::string token, std::string_view encoding_aes_key, std::string receive_id) {
  if (encoding_aes_key.size() != kKeyChars ||
      !std::all_of(encoding_aes_key.begin(), encoding_aes_key.end(), is_alnum_ascii))
    return fail("crypto.bad_aes_key", "EncodingAESKey must be exactly 43 characters of [A-Za-z0-9] (got " +
                                          std::to_string(encoding_aes_key.size()) + " characters)");
  auto key = base64_decode(std::string(encoding_aes_key) + "=");
  if (!key || key->size() != kKeyBytes)
    return fail("crypto.bad_aes_key", "EncodingAESKey does not decode to a 32-byte AES key");
  MsgCrypt c;
  c.token_ = std::move(token);
  c.key_ = std::move(*key);
  c.receive_id_ = std::move(receive_id);
  return c;
}

std::string MsgCrypt::signature(std::string_view timestamp, std::string_view nonce,
                                std::string_view encrypted) const {
  // string_view ordering is char_traits<char>::compare, i.e. memcmp: raw unsigned bytes (§1.2).
  std::array<std::string_view, 4> parts{token_, timestamp, nonce, encrypted};
  std::sort(parts.begin(), parts.end());
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  if (EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) != 1)
    throw std::runtime_error("EVP_DigestInit_ex(sha1) failed");
  for (auto p : parts)
    if (EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1)
      throw std::runtime_error("EVP_DigestUpdate(sha1) failed");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) throw std::runtime_error("EVP_DigestFinal_ex(sha1) failed");
  return hex_lower(md, len);
}

Result<std::string> MsgCrypt::verify_and_decrypt(std::string_view msg_signature, std::string_view timestamp,
                                                 std::string_view nonce, std::string_view encrypted) const {
  if (!constant_time_equal(signature(timestamp, nonce, encrypted), msg_signature))
    return fail("crypto.bad_signature", "msg_signature does not match the request");
  return decrypt(encrypted);
}

Result<std::string> MsgCrypt::decrypt(std::string_view encrypted) const {
  auto raw = base64_decode(encrypted);
  if (!raw) return raw.error();
  if (raw->empty() || raw->size() % kAesBlock != 0)
    return fail("crypto.bad_ciphertext", "ciphertext is not a whole, non-zero number of AES blocks (" +
                                             std::to_string(raw->size()) + " bytes)");
  auto plain = aes_cbc(false, key_, *raw);
  if (!plain) return fail("crypto.bad_ciphertext", "AES-256-CBC decryption failed");

  // Like the official C++ sample, only the last pad byte is checked (1..32): the signature,
  // checked before this, is what protects integrity.
  const std::size_t pad = static_cast<unsigned char>(plain->back());
  if (pad < 1 || pad > kPadBlock || pad > plain->size())
    return fail("crypto.bad_buffer", "decrypted buffer has an invalid padding byte");
  const std::size_t body = plain->size() - pad;
  if (body < kRandomBytes + kLengthBytes) return fail("crypto.bad_buffer", "decrypted buffer is too short");
  const std::string_view view(*plain);
  const std::size_t msg_len = read_be32(view.substr(kRandomBytes, kLengthBytes));
  const std::size_t room = body - kRandomBytes - kLengthBytes;
  if (msg_len > room) return fail("crypto.bad_buffer", "message length field exceeds the decrypted buffer");
  const std::string_view msg = view.substr(kRandomBytes + kLengthBytes, msg_len);
  const std::string_view receive_id = view.substr(kRandomBytes + kLengthBytes + msg_len, room - msg_len);
  if (receive_id != receive_id_)
    return fail("crypto.bad_receiveid", "receiveid in the message differs from the configured one");
  return ok(std::string(msg));
}

std::string MsgCrypt::encrypt(std::string_view msg, std::string_view random16) const {
  if (!random16.empty() && random16.size() != kRandomBytes)
    throw std::invalid_argument("MsgCrypt::encrypt: random16 must be empty or exactly 16 bytes");
  if (msg.size() > UINT32_MAX) throw std::length_error("MsgCrypt::encrypt: message longer than 4 GiB");
  std::string buf = random16.empty() ? random_bytes(kRandomBytes) : std::string(random16);
  append_be32(buf, static_cast<std::uint32_t>(msg.size()));
  buf.append(msg);
  buf.append(receive_id_);
  const std::size_t pad = kPadBlock - buf.size() % kPadBlock;
  buf.append(pad, static_cast<char>(pad));
  auto cipher = aes_cbc(true, key_, buf);
  if (!cipher) throw std::runtime_error("AES-256-CBC encryption failed");
  return base64_encode(*cipher);
}

std::string xml_reply_envelope(const MsgCrypt& crypt, std::string_view plaintext, std::string_view timestamp,
                               std::string_view nonce, std::string_view random16) {
  const std::string encrypted = crypt.encrypt(plaintext, random16);
  const std::string sig = crypt.signature(timestamp, nonce, encrypted);
  std::string out = "<xml>\n<Encrypt>";
  out += cdata(encrypted);
  out += "</Encrypt>\n<MsgSignature>";
  out += cdata(sig);
  out += "</MsgSignature>\n<TimeStamp>";
  out += xml_escape(timestamp);
  out += "</TimeStamp>\n<Nonce>";
  out += cdata(nonce);
  out += "</Nonce>\n</xml>";
  return out;
}

std::string json_reply_envelope(const MsgCrypt& crypt, std::string_view plaintext, std::string_view timestamp,
                                std::string_view nonce, std::string_view random16) {
  const std::string encrypted = crypt.encrypt(plaintext, random16);
  nlohmann::ordered_json j;
  j["encrypt"] = encrypted;
  j["msgsignature"] = crypt.signature(timestamp, nonce, encrypted);
  std::int64_t ts = 0;
  auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
  const bool canonical = !timestamp.empty() && timestamp[0] != '-' && (timestamp[0] != '0' || timestamp.size() == 1);
  if (canonical && ec == std::errc() && end == timestamp.data() + timestamp.size())
    j["timestamp"] = ts;
  else
    j["timestamp"] = std::string(timestamp);
  j["nonce"] = std::string(nonce);
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace yuer::adapters::wecom
