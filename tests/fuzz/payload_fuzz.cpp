// Decrypted callback payloads: app / customer-contact / 微信客服 XML events and intelligent-robot
// JSON, through the parser that indexes them for the inbox (what every callback goes through before
// it is acknowledged). The readers of single events have their own targets: chat_change (customer
// groups) and kf_sync_msg (the kf doorbell and sync_msg pages).
#include "adapters/wecom/callback_parse.h"
#include "daemon/org/encoding.h"
#include "tests/fuzz/fuzz_targets.h"

#include <string>

namespace yuer::fuzz {
namespace {

void check_fields(const adapters::wecom::PayloadFields& f) {
  require(!f.kind.empty(), "payload accepted without a kind");
  // Checked against the roster importer's independent UTF-8 validator (daemon/org).
  require(org::is_valid_utf8(f.kind) && org::is_valid_utf8(f.dedupe_key) && org::is_valid_utf8(f.from_user),
          "indexed fields are valid UTF-8");
  require(f.dedupe_key.rfind("msg:", 0) == 0 || f.dedupe_key.rfind("sha256:", 0) == 0, "dedupe key prefix");
  if (f.dedupe_key.rfind("sha256:", 0) == 0) require(f.dedupe_key.size() == 7 + 64, "sha256 dedupe key length");
}

}  // namespace

int event_payload(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto xml = adapters::wecom::parse_xml_payload(in);
  if (xml) check_fields(*xml);
  auto json = adapters::wecom::parse_json_payload(in);
  if (json) {
    check_fields(*json);
    require(json->kind.rfind("aibot:", 0) == 0, "robot kind prefix");
  }
  require(!(xml && json), "one payload parsed as both XML and JSON");
  // Strict UTF-8 is required of both (overlong forms, surrogates, stray bytes refused first).
  if (!org::is_valid_utf8(in)) {
    require(!xml && xml.error().code == "callback.not_utf8", "XML payload with bad UTF-8 refused as not_utf8");
    require(!json && json.error().code == "callback.not_utf8", "JSON payload with bad UTF-8 refused as not_utf8");
  }
  return 0;
}

}  // namespace yuer::fuzz
