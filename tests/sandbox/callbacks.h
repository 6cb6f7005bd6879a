// Callbacks the sandbox sends toward the daemon, built and signed as WeCom does (reference §1.6,
// §6.2): the plaintext XML of a text message, the encrypted XML envelope with msg_signature /
// timestamp / nonce in the query, the GET URL verification, and blocking delivery with retries.
#pragma once

#include "adapters/wecom/crypto.h"
#include "daemon/base/clock.h"
#include "tests/sandbox/module.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace yuer::sandbox {

// CDATA section for `s`; a "]]>" inside is split across two sections.
std::string cdata(std::string_view s);

// The decrypted form of an app text message (reference §6.2, DOC 90239):
// <xml><ToUserName/><FromUserName/><CreateTime/><MsgType>text</MsgType><Content/><MsgId/><AgentID/></xml>
std::string app_text_message_xml(std::string_view corp_id, std::string_view from_user, std::string_view content,
                                 std::int64_t create_time, std::string_view msg_id, std::int64_t agent_id);

// A signed POST: `query` is "msg_signature=..&timestamp=..&nonce=.." and `body` the XML envelope
// <xml><ToUserName/><Encrypt/><AgentID/></xml> (§1.6). Throws only what MsgCrypt::encrypt throws.
struct SignedCallback {
  std::string query;
  std::string body;
};
SignedCallback sign_app_callback(const adapters::wecom::MsgCrypt& crypt, std::string_view corp_id,
                                 std::int64_t agent_id, std::string_view plaintext, std::string_view timestamp,
                                 std::string_view nonce);

// The JSON variant (intelligent robot, §1.7): the same signed query, body {"encrypt": "..."}; the
// crypt must have been created with receiveid "".
SignedCallback sign_json_callback(const adapters::wecom::MsgCrypt& crypt, std::string_view plaintext,
                                  std::string_view timestamp, std::string_view nonce);

// The GET URL verification query: msg_signature, timestamp, nonce and the URL-encoded echostr
// (the encryption of `echo_plaintext`), signed over the raw echostr (§1.6, §14.3).
std::string sign_verify_query(const adapters::wecom::MsgCrypt& crypt, std::string_view echo_plaintext,
                              std::string_view timestamp, std::string_view nonce);

// `url` with `query` appended ("?" or "&").
std::string with_query(const std::string& url, const std::string& query);

// Delivers `job` with blocking HTTP (call on a worker thread, never on the io thread): up to
// policy.attempts tries, each with a fresh timestamp (from `clock`), nonce and encryption of the
// SAME plaintext; stops at the first HTTP 200 (for kVerify: a 200 whose body is the echostr
// plaintext). Never throws for network problems; each attempt is in the returned record.
CallbackRecord deliver_callback(const CallbackJob& job, const Clock& clock);

}  // namespace yuer::sandbox
