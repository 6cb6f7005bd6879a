// Parsers for callback bodies: the encrypted envelope around the ciphertext, and the decrypted
// payload (XML for self-built apps, customer contact and 微信客服; JSON for intelligent robots).
// Pure functions; they never throw on bad input.
#pragma once

#include "daemon/base/result.h"
#include "daemon/model/inbound_event.h"

#include <string>
#include <string_view>

namespace pugi {
class xml_node;
}

namespace yuer::adapters::wecom {

enum class EnvelopeFormat { kXml, kJson };

// Returns the Encrypt text of an XML envelope (<xml><Encrypt>..</Encrypt>..</xml>) or the
// "encrypt" member of a JSON envelope. Error{"callback.bad_envelope", ...} when the body is not
// well-formed, has no (or an empty) Encrypt field, or contains a DOCTYPE/entity declaration.
Result<std::string> extract_encrypted(EnvelopeFormat format, std::string_view body);
// The same, without copies: parses `body` in place (its content is then unspecified) and returns
// a view into it, valid while `body` lives unchanged. Same errors as extract_encrypted.
Result<std::string_view> extract_encrypted_in_place(EnvelopeFormat format, std::string& body);

// Text content of an element: its character data and CDATA sections, joined (WeCom uses both
// forms, reference §1.9.7). pugixml's `text()` would stop at the first part. Every reader of a
// decrypted payload uses this, so that they agree with the inbox on what an element says.
std::string xml_text(pugi::xml_node element);

// Fields of a decrypted payload that the inbox indexes. The payload itself is kept verbatim.
struct PayloadFields {
  std::string kind;        // "text", "event:change_external_chat", "aibot:text", "aibot:event:enter_chat"
  std::string dedupe_key;  // "msg:<MsgId>" / "msg:<msgid>" when present, else "sha256:<hex of payload>"
  std::string from_user;   // FromUserName / from.userid ("" when absent)
  std::int64_t created_at = 0;
};

// Parses a decrypted XML payload (§6). Error{"callback.bad_payload", ...} when it is not
// well-formed XML with a root <xml> and a MsgType, or contains a DOCTYPE/entity declaration.
// kind is MsgType, or "event:"+Event for MsgType "event" ("event:" when Event is missing);
// created_at is 0 when CreateTime is absent or not an integer.
Result<PayloadFields> parse_xml_payload(std::string_view plaintext);

// Parses a decrypted intelligent-robot JSON payload (§10). Error{"callback.bad_payload", ...}
// when it is not a JSON object with a non-empty string msgtype. kind is "aibot:"+msgtype, or
// "aibot:event:"+event.eventtype ("aibot:event:" when missing); created_at is 0 unless
// create_time is a JSON integer.
Result<PayloadFields> parse_json_payload(std::string_view plaintext);

// The pugixml readers behind the two XML functions above, which first try a one-pass scan of flat
// documents (the common shape) and use these for anything else. Exposed for the differential
// test that checks both give the same answer; not for other callers.
namespace detail {
Result<std::string_view> extract_encrypted_xml_with_pugixml(std::string& body);
Result<PayloadFields> parse_xml_payload_with_pugixml(std::string_view plaintext);
}  // namespace detail

}  // namespace yuer::adapters::wecom
