// MsgCrypt: WeCom's callback crypto (WXBizMsgCrypt). SHA-1 signature over the byte-sorted four
// strings; AES-256-CBC with key = base64(EncodingAESKey + "="), IV = key[0..16); PKCS#7 padding
// with a 32-byte block; plaintext = random(16) || len(4, big-endian) || msg || receiveid.
// https://developer.work.weixin.qq.com/document/path/91144
#pragma once

#include "daemon/base/result.h"

#include <array>
#include <string>
#include <string_view>

namespace yuer::adapters::wecom {

// Error codes returned (Error::code), one per failure the official samples distinguish (§1.5):
//   "crypto.bad_aes_key"    EncodingAESKey is not 43 chars of [A-Za-z0-9]      (-40004)
//   "crypto.bad_signature"  msg_signature does not match                        (-40001)
//   "crypto.bad_base64"     msg_encrypt is not base64                           (-40010)
//   "crypto.bad_ciphertext" not a whole number of AES blocks / decrypt failed   (-40007)
//   "crypto.bad_buffer"     bad padding or length field                         (-40008)
//   "crypto.bad_receiveid"  receiveid at the tail differs from the configured one (-40005)
class MsgCrypt {
 public:
  // Validates the key; `receive_id` is the corpid for app callbacks, "" for intelligent robots.
  // Error crypto.bad_aes_key when the key is not 43 chars of [A-Za-z0-9]; the token is not checked.
  static Result<MsgCrypt> create(std::string token, std::string_view encoding_aes_key, std::string receive_id);

  // hex_lower(SHA1(concat(sort([token, timestamp, nonce, encrypted])))).
  std::string signature(std::string_view timestamp, std::string_view nonce, std::string_view encrypted) const;

  // Checks `msg_signature` (constant time), then decrypts `encrypted` (base64 text as received)
  // and checks the receiveid. Returns the message bytes; on failure crypto.bad_signature (checked
  // first, so nothing is decrypted for an unsigned body) or any error of decrypt().
  Result<std::string> verify_and_decrypt(std::string_view msg_signature, std::string_view timestamp,
                                         std::string_view nonce, std::string_view encrypted) const;

  // Decrypts without the signature check (for callers that verified already). Errors:
  // crypto.bad_base64, crypto.bad_ciphertext, crypto.bad_buffer, crypto.bad_receiveid.
  Result<std::string> decrypt(std::string_view encrypted) const;

  // Encrypts `msg` with `random16` (exactly 16 bytes; empty = fresh random bytes) and returns
  // the base64 text.
  // Requires: random16 is empty or 16 bytes (else std::invalid_argument); msg is < 4 GiB
  // (else std::length_error). Throws std::runtime_error if OpenSSL fails.
  std::string encrypt(std::string_view msg, std::string_view random16 = {}) const;

  const std::string& receive_id() const { return receive_id_; }

 private:
  MsgCrypt() = default;
  void signature_into(std::string_view timestamp, std::string_view nonce, std::string_view encrypted,
                      std::array<char, 40>& out) const;
  std::string token_;
  std::string key_;  // 32 bytes
  std::string receive_id_;
};

// Envelopes of passive replies: encrypt `plaintext`, sign, and wrap.
// XML (§1.6): <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml> with "\n" between elements.
std::string xml_reply_envelope(const MsgCrypt& crypt, std::string_view plaintext, std::string_view timestamp,
                               std::string_view nonce, std::string_view random16 = {});
// JSON (§1.7): {"encrypt":..,"msgsignature":..,"timestamp":<number>,"nonce":..}. A timestamp that
// is not a canonical non-negative decimal is emitted as a JSON string so the text stays signed as given;
// invalid UTF-8 in the nonce is replaced (U+FFFD) rather than thrown on.
// Both envelopes throw only what MsgCrypt::encrypt throws.
std::string json_reply_envelope(const MsgCrypt& crypt, std::string_view plaintext, std::string_view timestamp,
                                std::string_view nonce, std::string_view random16 = {});

// Base64 (standard alphabet, with padding) through OpenSSL.
std::string base64_encode(std::string_view bytes);
// Lenient about unused trailing bits (WeCom keys rely on it, §1.9); rejects other garbage.
Result<std::string> base64_decode(std::string_view text);

}  // namespace yuer::adapters::wecom
