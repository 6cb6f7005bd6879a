// Callback envelope and crypto: the bytes an attacker controls on POST /wecom/callback/*.
// The first byte picks the mode; the rest is the input.
#include "adapters/wecom/callback_parse.h"
#include "adapters/wecom/crypto.h"
#include "tests/fuzz/fuzz_targets.h"

#include <string>

namespace yuer::fuzz {
namespace {

using adapters::wecom::EnvelopeFormat;
using adapters::wecom::MsgCrypt;

const MsgCrypt& crypt() {
  static const MsgCrypt c =
      MsgCrypt::create("FuzzToken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wwfuzzcorp0001").value();
  return c;
}

// extract_encrypted and its in-place twin agree; whatever comes out is decrypted (any error is fine).
void envelope(EnvelopeFormat format, std::string_view body) {
  auto copied = adapters::wecom::extract_encrypted(format, body);
  std::string buffer(body);
  auto in_place = adapters::wecom::extract_encrypted_in_place(format, buffer);
  require(copied.has_value() == in_place.has_value(), "extract_encrypted and extract_encrypted_in_place disagree");
  if (!copied) return;
  require(!copied->empty(), "empty Encrypt accepted");
  require(*copied == *in_place, "in-place Encrypt differs");
  auto plain = crypt().decrypt(*copied);
  (void)plain;
}

// Signature fields and ciphertext from the input, split at the first three 0x00 bytes.
void verify(std::string_view in) {
  std::string_view parts[4];
  for (int i = 0; i < 3; ++i) {
    auto at = in.find('\0');
    parts[i] = in.substr(0, at);
    in = at == std::string_view::npos ? std::string_view{} : in.substr(at + 1);
  }
  parts[3] = in;
  auto r = crypt().verify_and_decrypt(parts[0], parts[1], parts[2], parts[3]);
  // A correct signature over the same fields must get past the signature check.
  std::string good = crypt().signature(parts[1], parts[2], parts[3]);
  auto signed_r = crypt().verify_and_decrypt(good, parts[1], parts[2], parts[3]);
  require(signed_r.has_value() || signed_r.error().code != "crypto.bad_signature", "own signature refused");
  if (r) require(signed_r.has_value() && *signed_r == *r, "verify_and_decrypt is not a function of its input");
}

bool decrypts_to(std::string_view enc, std::string_view msg) {
  auto r = crypt().decrypt(enc);
  return r.has_value() && *r == msg;
}

// Whatever we encrypt decrypts to itself, through both envelopes.
void roundtrip(std::string_view msg) {
  std::string enc = crypt().encrypt(msg);
  auto back = crypt().decrypt(enc);
  require(back.has_value() && *back == msg, "encrypt/decrypt round trip");
  std::string sig = crypt().signature("1700000000", "nonce", enc);
  auto checked = crypt().verify_and_decrypt(sig, "1700000000", "nonce", enc);
  require(checked.has_value() && *checked == msg, "signed round trip");
  auto b = adapters::wecom::base64_decode(adapters::wecom::base64_encode(msg));
  require(b.has_value() && *b == msg, "base64 round trip");
  std::string xml = adapters::wecom::xml_reply_envelope(crypt(), msg, "1700000000", "n1");
  auto x = adapters::wecom::extract_encrypted(EnvelopeFormat::kXml, xml);
  require(x.has_value() && decrypts_to(*x, msg), "XML reply envelope round trip");
  std::string json = adapters::wecom::json_reply_envelope(crypt(), msg, "1700000000", "n1");
  auto j = adapters::wecom::extract_encrypted(EnvelopeFormat::kJson, json);
  require(j.has_value() && decrypts_to(*j, msg), "JSON reply envelope round trip");
}

}  // namespace

int callback_envelope(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0: envelope(EnvelopeFormat::kXml, in); break;
    case 1: envelope(EnvelopeFormat::kJson, in); break;
    case 2: (void)crypt().decrypt(in); (void)adapters::wecom::base64_decode(in); break;
    case 3: verify(in); break;
    default: roundtrip(in.substr(0, 64 * 1024)); break;
  }
  return 0;
}

}  // namespace yuer::fuzz
