#include "adapters/wecom/crypto.h"

#include "daemon/base/secure.h"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
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

// A multiple of 3 so chunks never split a base64 group.
constexpr std::size_t kEncodeChunk = 3 * 1024 * 1024;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// Result<std::string> cannot be built implicitly from a std::string: under C++20 the aggregate
// Error is paren-constructible from a string too, so Boost disables the implicit conversion.
Result<std::string> ok(std::string s) { return Result<std::string>(boost::system::in_place_value, std::move(s)); }

bool is_alnum_ascii(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Value of each base64 character (standard alphabet), kNotBase64 for every other byte, '=' included.
constexpr unsigned char kNotBase64 = 0x80;
constexpr std::array<unsigned char, 256> make_base64_table() {
  std::array<unsigned char, 256> t{};
  for (auto& v : t) v = kNotBase64;
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < alphabet.size(); ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<unsigned char>(i);
  return t;
}
constexpr std::array<unsigned char, 256> kBase64Value = make_base64_table();

// Decodes standard base64 with 0 to 2 '=' of padding into `out` (resized to the decoded size).
// Lenient about unused trailing bits like EVP_DecodeBlock (WeCom keys rely on it, §1.9); refuses a
// length that is not a multiple of 4, characters outside the alphabet and '=' anywhere but the
// last two places. One pass, no allocation beyond `out`. Returns false on bad input (`out` is
// then unspecified).
bool decode_base64_into(std::string_view text, std::string& out) {
  if (text.size() % 4 != 0) return false;
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  out.resize(text.size() / 4 * 3);
  if (text.empty()) return true;
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  const std::size_t full = text.size() / 4 - (pad ? 1 : 0);  // groups without padding
  unsigned bad = 0;
  for (std::size_t g = 0; g < full; ++g, in += 4, o += 3) {
    const unsigned a = kBase64Value[in[0]], b = kBase64Value[in[1]], c = kBase64Value[in[2]], d = kBase64Value[in[3]];
    bad |= a | b | c | d;
    const unsigned v = (a << 18) | (b << 12) | (c << 6) | d;
    o[0] = static_cast<unsigned char>(v >> 16);
    o[1] = static_cast<unsigned char>(v >> 8);
    o[2] = static_cast<unsigned char>(v);
  }
  if (pad) {  // last group: "xx==" or "xxx="
    const unsigned a = kBase64Value[in[0]], b = kBase64Value[in[1]];
    const unsigned c = pad == 1 ? kBase64Value[in[2]] : 0;
    bad |= a | b | c;
    const unsigned v = (a << 18) | (b << 12) | (c << 6);
    o[0] = static_cast<unsigned char>(v >> 16);
    o[1] = static_cast<unsigned char>(v >> 8);
  }
  if (bad & kNotBase64) return false;
  out.resize(out.size() - pad);
  return true;
}

// OpenSSL 3 looks the algorithm up in its provider store on every init when given EVP_sha1() or
// EVP_aes_256_cbc(); fetching once avoids that lock and lookup per request. Never freed (process
// lifetime). Throws std::runtime_error when the default provider lacks the algorithm.
const EVP_MD* sha1_md() {
  static EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    if (!m) throw std::runtime_error("EVP_MD_fetch(SHA1) failed");
    return m;
  }();
  return md;
}
const EVP_CIPHER* aes_256_cbc() {
  static EVP_CIPHER* cipher = [] {
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
    if (!c) throw std::runtime_error("EVP_CIPHER_fetch(AES-256-CBC) failed");
    return c;
  }();
  return cipher;
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// One cipher and one digest context per thread, reused (each init resets them): creating and
// freeing them per request showed in profiles. Thread-local, so MsgCrypt stays usable from
// several threads at once.
EVP_MD_CTX* thread_md_ctx() {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  return ctx.get();
}

// The cipher context also remembers which key and direction it was set up for: a callback
// decrypted with the same key as the last one re-initialises the IV only and keeps the expanded
// AES key (the key expansion was ~3% of a callback's instructions).
struct ThreadCipher {
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx{EVP_CIPHER_CTX_new()};
  std::array<unsigned char, kKeyBytes> key{};
  int enc = -1;  // -1: no key set up
};

// AES-256-CBC with IV = key[0..16) and no OpenSSL padding, in place: `buf` is replaced by its
// en- or decryption (same length). Requires buf.size() % 16 == 0 and key.size() == 32. False when
// OpenSSL refuses.
bool aes_cbc_in_place(bool encrypt, const std::string& key, std::string& buf) {
  if (buf.size() > static_cast<std::size_t>(INT_MAX) - kAesBlock || key.size() != kKeyBytes) return false;
  thread_local ThreadCipher tc;
  if (!tc.ctx) throw std::bad_alloc();
  EVP_CIPHER_CTX* ctx = tc.ctx.get();
  const unsigned char* k = bytes(key);
  const int enc = encrypt ? 1 : 0;
  const bool same_key = tc.enc == enc && std::memcmp(tc.key.data(), k, kKeyBytes) == 0;
  tc.enc = -1;  // until this init succeeded
  // With a null cipher and key, OpenSSL keeps the context's cipher and expanded key and sets the IV.
  if (EVP_CipherInit_ex2(ctx, same_key ? nullptr : aes_256_cbc(), same_key ? nullptr : k, k, enc, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
    return false;
  std::memcpy(tc.key.data(), k, kKeyBytes);
  tc.enc = enc;
  // OpenSSL allows the output to be the input exactly (not partly overlapping).
  int n = 0;
  int tail = 0;
  if (EVP_CipherUpdate(ctx, bytes(buf), &n, bytes(buf), static_cast<int>(buf.size())) != 1 ||
      EVP_CipherFinal_ex(ctx, bytes(buf) + n, &tail) != 1)
    return false;
  return static_cast<std::size_t>(n) + static_cast<std::size_t>(tail) == buf.size();
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
  // Not EVP_DecodeBlock: it accepts surrounding whitespace and counts '=' as data (§1.9.2).
  if (text.size() % 4 != 0) return fail("crypto.bad_base64", "base64 text length is not a multiple of 4");
  std::string out;
  if (!decode_base64_into(text, out))
    return fail("crypto.bad_base64", "base64 text contains a character outside [A-Za-z0-9+/] or misplaced '='");
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

// SHA-1 of the four strings sorted bytewise, as 40 lower-case hex characters in `out`.
void MsgCrypt::signature_into(std::string_view timestamp, std::string_view nonce, std::string_view encrypted,
                              std::array<char, 40>& out) const {
  // string_view ordering is char_traits<char>::compare, i.e. memcmp: raw unsigned bytes (§1.2).
  std::array<std::string_view, 4> parts{token_, timestamp, nonce, encrypted};
  std::sort(parts.begin(), parts.end());
  EVP_MD_CTX* ctx = thread_md_ctx();
  if (EVP_DigestInit_ex2(ctx, sha1_md(), nullptr) != 1) throw std::runtime_error("EVP_DigestInit_ex2(sha1) failed");
  for (auto p : parts)
    if (EVP_DigestUpdate(ctx, p.data(), p.size()) != 1) throw std::runtime_error("EVP_DigestUpdate(sha1) failed");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 20) throw std::runtime_error("EVP_DigestFinal_ex(sha1) failed");
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < 20; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 15];
  }
}

std::string MsgCrypt::signature(std::string_view timestamp, std::string_view nonce,
                                std::string_view encrypted) const {
  std::array<char, 40> hex;
  signature_into(timestamp, nonce, encrypted, hex);
  return std::string(hex.data(), hex.size());
}

Result<std::string> MsgCrypt::verify_and_decrypt(std::string_view msg_signature, std::string_view timestamp,
                                                 std::string_view nonce, std::string_view encrypted) const {
  std::array<char, 40> expected;
  signature_into(timestamp, nonce, encrypted, expected);
  if (!constant_time_equal(std::string_view(expected.data(), expected.size()), msg_signature))
    return fail("crypto.bad_signature", "msg_signature does not match the request");
  return decrypt(encrypted);
}

Result<std::string> MsgCrypt::decrypt(std::string_view encrypted) const {
  // One buffer for the whole way: base64 is decoded into it, decrypted in place, and the message
  // is moved to its front, so the result needs no further allocation or copy.
  std::string buf;
  if (encrypted.size() % 4 != 0) return fail("crypto.bad_base64", "base64 text length is not a multiple of 4");
  if (!decode_base64_into(encrypted, buf))
    return fail("crypto.bad_base64", "base64 text contains a character outside [A-Za-z0-9+/] or misplaced '='");
  if (buf.empty() || buf.size() % kAesBlock != 0)
    return fail("crypto.bad_ciphertext", "ciphertext is not a whole, non-zero number of AES blocks (" +
                                             std::to_string(buf.size()) + " bytes)");
  if (!aes_cbc_in_place(false, key_, buf)) return fail("crypto.bad_ciphertext", "AES-256-CBC decryption failed");

  // Like the official C++ sample, only the last pad byte is checked (1..32): the signature,
  // checked before this, is what protects integrity.
  const std::size_t pad = static_cast<unsigned char>(buf.back());
  if (pad < 1 || pad > kPadBlock || pad > buf.size())
    return fail("crypto.bad_buffer", "decrypted buffer has an invalid padding byte");
  const std::size_t body = buf.size() - pad;
  if (body < kRandomBytes + kLengthBytes) return fail("crypto.bad_buffer", "decrypted buffer is too short");
  const std::string_view view(buf);
  const std::size_t msg_len = read_be32(view.substr(kRandomBytes, kLengthBytes));
  const std::size_t room = body - kRandomBytes - kLengthBytes;
  if (msg_len > room) return fail("crypto.bad_buffer", "message length field exceeds the decrypted buffer");
  const std::string_view receive_id = view.substr(kRandomBytes + kLengthBytes + msg_len, room - msg_len);
  if (receive_id != receive_id_)
    return fail("crypto.bad_receiveid", "receiveid in the message differs from the configured one");
  buf.erase(0, kRandomBytes + kLengthBytes);
  buf.resize(msg_len);
  return ok(std::move(buf));
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
  if (!aes_cbc_in_place(true, key_, buf)) throw std::runtime_error("AES-256-CBC encryption failed");
  return base64_encode(buf);
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
