// Callback body parsers: envelopes (XML/JSON) and decrypted payloads (XML for apps, JSON for the
// intelligent robot), with the vector plaintexts, documented samples, garbage rows and a seeded
// mutation loop that only asserts the parsers never throw.
#include "adapters/wecom/callback_parse.h"

#include "adapters/wecom/crypto.h"
#include "adapters/wecom/vectors_testing.h"
#include "daemon/base/secure.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace yuer::adapters::wecom;
using nlohmann::json;

using testing::load_vector;

std::string vector_field(const std::string& file, const char* key) { return load_vector(file).at(key).get<std::string>(); }

template <class T>
std::string code_of(const yuer::Result<T>& r) {
  return r ? std::string() : r.error().code;
}

std::string sha_key(std::string_view payload) { return "sha256:" + yuer::sha256_hex(payload); }

// §6.3, official template-card event sample (WxJava test, matching DOC 90240).
const std::string kTemplateCardEvent =
    "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[FromUser]]></FromUserName>\n"
    "<CreateTime>123456789</CreateTime><MsgType><![CDATA[event]]></MsgType>\n"
    "<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[key111]]></EventKey>\n"
    "<TaskId><![CDATA[taskid111]]></TaskId><CardType><![CDATA[text_notice]]></CardType>\n"
    "<ResponseCode><![CDATA[ResponseCode]]></ResponseCode><AgentID>1</AgentID>\n"
    "<SelectedItems><SelectedItem><QuestionKey><![CDATA[QuestionKey1]]></QuestionKey>\n"
    "<OptionIds><OptionId><![CDATA[OptionId1]]></OptionId><OptionId><![CDATA[OptionId2]]></OptionId></OptionIds>\n"
    "</SelectedItem><SelectedItem><QuestionKey><![CDATA[QuestionKey2]]></QuestionKey>\n"
    "<OptionIds><OptionId><![CDATA[OptionId3]]></OptionId><OptionId><![CDATA[OptionId4]]></OptionId></OptionIds>\n"
    "</SelectedItem></SelectedItems></xml>";

// §8.3, change_external_chat sample (Senparc "官方提供").
const std::string kChangeExternalChat =
    "<xml><ToUserName><![CDATA[wwea4ccebadeefd11a]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>\n"
    "<CreateTime>1700642907</CreateTime><MsgType><![CDATA[event]]></MsgType>\n"
    "<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[wree9uDgAAfxkLu5-lEbsmQBjsb7V8Cg]]></ChatId>\n"
    "<ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[change_name]]></UpdateDetail>\n"
    "<JoinScene>0</JoinScene><MemChangeCnt>2</MemChangeCnt>\n"
    "<LastMemVer><![CDATA[6ebe7c3f89cb839ec2e1720f04eae2e0]]></LastMemVer>"
    "<CurMemVer><![CDATA[15722766561cf8bce92480a3d1457654]]></CurMemVer></xml>";

// §9.2, 微信客服 doorbell: no FromUserName.
const std::string kKfMsgOrEvent =
    "<xml><ToUserName><![CDATA[ww12345678910]]></ToUserName><CreateTime>1348831860</CreateTime>\n"
    "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>\n"
    "<Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token>\n"
    "<OpenKfId><![CDATA[wkxxxxxxx]]></OpenKfId></xml>";

// §10.3, intelligent-robot events.
const std::string kAibotEnterChat =
    R"({"msgid":"CAIQz7/MjQYQ","create_time":1700000000,"aibotid":"AIBOTID","chattype":"single",)"
    R"("from":{"corpid":"wpCORPID","userid":"lisi"},"msgtype":"event","event":{"eventtype":"enter_chat","enter_chat":{}}})";
const std::string kAibotCardEvent =
    R"({"msgid":"EVT2","create_time":1700000100,"aibotid":"AIBOTID","chatid":"CHATID","chattype":"group",)"
    R"("from":{"corpid":"wpCORPID","userid":"wangwu"},"response_url":"RESPONSEURL","msgtype":"event",)"
    R"("event":{"eventtype":"template_card_event","template_card_event":{"card_type":"vote_interaction",)"
    R"("event_key":"submit","task_id":"T1","selected_items":{"selected_item":[{"question_key":"q1",)"
    R"("option_ids":{"option_id":["a"]}}]}}}})";

const std::string kBillionLaughs =
    "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n"
    "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
    "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
    "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n]>\n";
const std::string kExternalEntity = "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>";

struct FieldsCase {
  const char* label;
  std::string text;
  std::string expect_code;  // "" = parses
  std::string kind;
  std::string dedupe_key;
  std::string from_user;
  std::int64_t created_at;
};

void check_fields(const FieldsCase& c, const yuer::Result<PayloadFields>& r) {
  CAPTURE(c.label);
  REQUIRE(code_of(r) == c.expect_code);
  if (!r) {
    CHECK_FALSE(r.error().message.empty());
    return;
  }
  CHECK(r->kind == c.kind);
  CHECK(r->dedupe_key == c.dedupe_key);
  CHECK(r->from_user == c.from_user);
  CHECK(r->created_at == c.created_at);
}

}  // namespace

TEST_CASE("XML payloads: vector plaintexts, documented events and garbage", "[adapters][wecom][parse]") {
  const std::string v1 = vector_field("v1_post.json", "expect_msg");
  const std::string v2 = vector_field("v2_post.json", "expect_msg");
  const std::string v3 = vector_field("v3_post_xml.json", "expect_msg");
  const std::string html_in_content =
      "<xml><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType>"
      "<Content><![CDATA[<!DOCTYPE html><!ENTITY x \"y\">]]></Content><MsgId>77</MsgId></xml>";
  const std::string enter_agent =
      "<xml><ToUserName><![CDATA[corp]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>"
      "<CreateTime> 1408091189 </CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[enter_agent]]></Event>"
      "<EventKey><![CDATA[]]></EventKey><AgentID>1</AgentID></xml>";
  const std::string bad_time = "<xml><MsgType>text</MsgType><CreateTime>12ab</CreateTime><MsgId></MsgId></xml>";
  const std::string huge_time = "<xml><MsgType>text</MsgType><CreateTime>99999999999999999999</CreateTime></xml>";
  const std::string event_without_name = "<xml><MsgType>event</MsgType></xml>";
  const std::string kWithNul = std::string("<xml><MsgType>text</MsgType>") + '\0' + "</xml>";
  const std::string split_text = "<xml><MsgType>te<![CDATA[x]]>t</MsgType><MsgId>1&amp;2</MsgId></xml>";

  const FieldsCase cases[] = {
      {"V1 plaintext (CDATA)", v1, "", "text", "msg:4561255354251345929", "mycreate", 1409659813},
      {"V2 plaintext (CDATA)", v2, "", "text", "msg:4363689963896700987", "messense", 1411525903},
      {"V3 plaintext (bare text, Chinese)", v3, "", "text", "msg:1456453720", "ChenJiaShun", 1476422779},
      {"template_card_event (§6.3)", kTemplateCardEvent, "", "event:template_card_event", sha_key(kTemplateCardEvent),
       "FromUser", 123456789},
      {"change_external_chat (§8.3)", kChangeExternalChat, "", "event:change_external_chat",
       sha_key(kChangeExternalChat), "sys", 1700642907},
      {"kf_msg_or_event (§9.2)", kKfMsgOrEvent, "", "event:kf_msg_or_event", sha_key(kKfMsgOrEvent), "", 1348831860},
      {"enter_agent, CreateTime with spaces", enter_agent, "", "event:enter_agent", sha_key(enter_agent), "zhangsan",
       1408091189},
      {"DOCTYPE text inside CDATA is content, not a declaration", html_in_content, "", "text", "msg:77", "u1", 1},
      {"CreateTime not an integer, empty MsgId", bad_time, "", "text", sha_key(bad_time), "", 0},
      {"CreateTime out of range", huge_time, "", "text", sha_key(huge_time), "", 0},
      {"event without Event", event_without_name, "", "event:", sha_key(event_without_name), "", 0},
      {"text split over CDATA and entities", split_text, "", "text", "msg:1&2", "", 0},
      {"with XML declaration", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + v1, "", "text",
       "msg:4561255354251345929", "mycreate", 1409659813},

      {"empty", "", "callback.bad_payload", "", "", "", 0},
      {"not XML", "hello", "callback.bad_payload", "", "", "", 0},
      {"JSON instead of XML", vector_field("v5_post.json", "expect_msg"), "callback.bad_payload", "", "", "", 0},
      {"no MsgType", "<xml><FromUserName>a</FromUserName></xml>", "callback.bad_payload", "", "", "", 0},
      {"empty MsgType", "<xml><MsgType><![CDATA[]]></MsgType></xml>", "callback.bad_payload", "", "", "", 0},
      {"MsgType only nested deeper", "<xml><a><MsgType>text</MsgType></a></xml>", "callback.bad_payload", "", "", "",
       0},
      {"root is not <xml>", "<root><MsgType>text</MsgType></root>", "callback.bad_payload", "", "", "", 0},
      {"two root elements", "<xml><MsgType>text</MsgType></xml><xml/>", "callback.bad_payload", "", "", "", 0},
      {"unterminated", "<xml><MsgType>text</MsgType>", "callback.bad_payload", "", "", "", 0},
      {"mismatched tags", "<xml><MsgType>text</Msgtype></xml>", "callback.bad_payload", "", "", "", 0},
      {"truncated V1", v1.substr(0, v1.size() / 2), "callback.bad_payload", "", "", "", 0},
      {"NUL byte inside", kWithNul, "callback.bad_payload", "", "", "", 0},
      {"billion laughs", kBillionLaughs + "<xml><MsgType>&lol3;</MsgType></xml>", "callback.bad_payload", "", "", "",
       0},
      {"external entity (XXE)", kExternalEntity + "<xml><MsgType>&xxe;</MsgType></xml>", "callback.bad_payload", "",
       "", "", 0},
      {"bare DOCTYPE", "<!DOCTYPE xml><xml><MsgType>text</MsgType></xml>", "callback.bad_payload", "", "", "", 0},
      {"DOCTYPE inside the root", "<xml><!DOCTYPE x><MsgType>text</MsgType></xml>", "callback.bad_payload", "", "",
       "", 0},
      {"ENTITY outside a DOCTYPE", "<!ENTITY a \"b\"><xml><MsgType>text</MsgType></xml>", "callback.bad_payload", "",
       "", "", 0},
  };
  for (const auto& c : cases) check_fields(c, parse_xml_payload(c.text));
}

TEST_CASE("JSON payloads: robot message, events and garbage", "[adapters][wecom][parse]") {
  const std::string v5 = vector_field("v5_post.json", "expect_msg");
  const std::string no_msgid = R"({"msgtype":"text","from":{"userid":"u"},"create_time":"1700000000"})";
  const std::string numeric_msgid = R"({"msgtype":"text","msgid":4561255354251345929,"create_time":1.5e9})";
  const std::string event_without_type = R"({"msgid":"E","msgtype":"event","event":{"eventtype":5}})";
  const std::string from_not_object = R"({"msgid":"","msgtype":"image","from":"lisi","create_time":-1})";

  const FieldsCase cases[] = {
      {"V5 robot text", v5, "", "aibot:text", "msg:MSGID0001", "zhangsan", 0},
      {"enter_chat event (§10.3)", kAibotEnterChat, "", "aibot:event:enter_chat", "msg:CAIQz7/MjQYQ", "lisi",
       1700000000},
      {"template_card_event (§10.3)", kAibotCardEvent, "", "aibot:event:template_card_event", "msg:EVT2", "wangwu",
       1700000100},
      {"no msgid, create_time as a string", no_msgid, "", "aibot:text", sha_key(no_msgid), "u", 0},
      {"numeric msgid, float create_time", numeric_msgid, "", "aibot:text", "msg:4561255354251345929", "", 0},
      {"event with a non-string eventtype", event_without_type, "", "aibot:event:", "msg:E", "", 0},
      {"empty msgid, from not an object", from_not_object, "", "aibot:image", sha_key(from_not_object), "", -1},

      {"empty", "", "callback.bad_payload", "", "", "", 0},
      {"V3 sample JSON (deliberately invalid)", vector_field("v3_post_json.json", "expect_msg"),
       "callback.bad_payload", "", "", "", 0},
      {"XML instead of JSON", vector_field("v1_post.json", "expect_msg"), "callback.bad_payload", "", "", "", 0},
      {"array", R"([{"msgtype":"text"}])", "callback.bad_payload", "", "", "", 0},
      {"string", R"("text")", "callback.bad_payload", "", "", "", 0},
      {"null", "null", "callback.bad_payload", "", "", "", 0},
      {"no msgtype", R"({"msgid":"1"})", "callback.bad_payload", "", "", "", 0},
      {"numeric msgtype", R"({"msgtype":1})", "callback.bad_payload", "", "", "", 0},
      {"empty msgtype", R"({"msgtype":""})", "callback.bad_payload", "", "", "", 0},
      {"trailing garbage", R"({"msgtype":"text"} x)", "callback.bad_payload", "", "", "", 0},
      {"invalid UTF-8 in a string", "{\"msgtype\":\"te\xff\"}", "callback.not_utf8", "", "", "", 0},
      {"comment", "{\"msgtype\":\"text\" /* c */}", "callback.bad_payload", "", "", "", 0},
  };
  for (const auto& c : cases) check_fields(c, parse_json_payload(c.text));
}

TEST_CASE("payloads must be strict UTF-8: overlong forms, surrogates and stray bytes are refused",
          "[adapters][wecom][parse]") {
  struct Case {
    const char* label;
    std::string bytes;  // placed inside a text field of an otherwise valid payload
    bool ok;
  };
  const Case cases[] = {
      {"ASCII", "hello", true},
      {"Chinese (3 bytes)", "\xe5\xae\x9d\xe5\xae\x9d", true},
      {"emoji (4 bytes)", "\xf0\x9f\x91\xb6", true},
      {"U+0080, the smallest 2-byte", "\xc2\x80", true},
      {"U+0800, the smallest 3-byte", "\xe0\xa0\x80", true},
      {"U+D7FF, just below the surrogates", "\xed\x9f\xbf", true},
      {"U+E000, just above the surrogates", "\xee\x80\x80", true},
      {"U+10000, the smallest 4-byte", "\xf0\x90\x80\x80", true},
      {"U+10FFFF, the largest", "\xf4\x8f\xbf\xbf", true},
      {"overlong NUL C0 80", "a\xc0\x80" "b", false},
      {"overlong C1 BF", "\xc1\xbf", false},
      {"overlong '/' E0 80 AF", "\xe0\x80\xaf", false},
      {"overlong 3-byte E0 9F BF", "\xe0\x9f\xbf", false},
      {"overlong 4-byte F0 80 80 AF", "\xf0\x80\x80\xaf", false},
      {"overlong 4-byte F0 8F BF BF", "\xf0\x8f\xbf\xbf", false},
      {"surrogate U+D800 (CESU)", "\xed\xa0\x80", false},
      {"surrogate U+DFFF", "\xed\xbf\xbf", false},
      {"above U+10FFFF (F4 90)", "\xf4\x90\x80\x80", false},
      {"F5 lead byte", "\xf5\x80\x80\x80", false},
      {"lone continuation byte", "\x80", false},
      {"FE / FF", "\xfe\xff", false},
      {"Latin-1 e-acute", "caf\xe9", false},
      {"GB18030 bytes of 宝宝", "\xb1\xa6\xb1\xa6", false},
      {"truncated 3-byte sequence", "\xe5\xae", false},
      {"3-byte lead followed by ASCII", "\xe5" "a\xae", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    const std::string xml = "<xml><MsgType>text</MsgType><Content><![CDATA[" + c.bytes + "]]></Content></xml>";
    // After the root element, at the very end: pugixml keeps text there outside the tree (the
    // payload is accepted and stored verbatim), but the bytes must still be UTF-8.
    const std::string xml_tail = "<xml><MsgType>text</MsgType></xml>" + c.bytes;
    const std::string js = R"({"msgtype":"text","text":{"content":")" + c.bytes + R"("}})";
    CHECK(code_of(parse_xml_payload(xml)) == (c.ok ? "" : "callback.not_utf8"));
    CHECK(code_of(parse_json_payload(js)) == (c.ok ? "" : "callback.not_utf8"));
    CHECK(code_of(parse_xml_payload(xml_tail)) == (c.ok ? "" : "callback.not_utf8"));
  }
  // Character references are decoded by pugixml without a check: one to a surrogate or beyond
  // U+10FFFF in an indexed field is refused as well; valid ones are decoded.
  struct Ref {
    const char* xml;
    const char* code;
  };
  const Ref refs[] = {
      {"<xml><MsgType>text</MsgType><FromUserName>&#xD800;</FromUserName></xml>", "callback.not_utf8"},
      {"<xml><MsgType>te&#xDFFF;xt</MsgType></xml>", "callback.not_utf8"},
      {"<xml><MsgType>text</MsgType><MsgId>&#x110000;</MsgId></xml>", "callback.not_utf8"},
      {"<xml><MsgType>text</MsgType><FromUserName>&#x5B9D;&#x1F476;</FromUserName></xml>", ""},
  };
  for (const auto& r : refs) {
    CAPTURE(r.xml);
    CHECK(code_of(parse_xml_payload(r.xml)) == r.code);
  }
}

TEST_CASE("envelopes: the Encrypt field is extracted or the body is refused", "[adapters][wecom][parse]") {
  const std::string v1_body = vector_field("v1_post.json", "body");
  const std::string v1_encrypt = vector_field("v1_post.json", "encrypted");
  struct Case {
    const char* label;
    EnvelopeFormat format;
    std::string body;
    std::string expect;  // the Encrypt text, or an error code
  };
  const auto xml = EnvelopeFormat::kXml;
  const auto js = EnvelopeFormat::kJson;
  const Case cases[] = {
      {"V1 envelope", xml, v1_body, v1_encrypt},
      {"V3 JSON envelope", js, vector_field("v3_post_json.json", "body"), vector_field("v3_post_json.json", "encrypted")},
      {"V5 JSON envelope", js, vector_field("v5_post.json", "body"), vector_field("v5_post.json", "encrypted")},
      {"bare text Encrypt, no AgentID", xml, "<xml><ToUserName>c</ToUserName><Encrypt>abc+/=</Encrypt></xml>", "abc+/="},
      {"Encrypt with whitespace around the CDATA", xml, "<xml>\n  <Encrypt>\n  <![CDATA[abc]]>\n  </Encrypt>\n</xml>",
       "abc"},
      {"unknown JSON members ignored", js, R"({"tousername":"x","agentid":1,"encrypt":"abc"})", "abc"},

      {"empty body (XML)", xml, "", "callback.bad_envelope"},
      {"empty body (JSON)", js, "", "callback.bad_envelope"},
      {"not XML", xml, "encrypt=abc", "callback.bad_envelope"},
      {"JSON given as XML", xml, R"({"encrypt":"abc"})", "callback.bad_envelope"},
      {"XML given as JSON", js, v1_body, "callback.bad_envelope"},
      {"XML without Encrypt", xml, "<xml><ToUserName><![CDATA[c]]></ToUserName></xml>", "callback.bad_envelope"},
      {"empty Encrypt", xml, "<xml><Encrypt></Encrypt></xml>", "callback.bad_envelope"},
      {"empty CDATA Encrypt", xml, "<xml><Encrypt><![CDATA[]]></Encrypt></xml>", "callback.bad_envelope"},
      {"self-closing Encrypt", xml, "<xml><Encrypt/></xml>", "callback.bad_envelope"},
      {"root is not <xml>", xml, "<root><Encrypt>abc</Encrypt></root>", "callback.bad_envelope"},
      {"unterminated", xml, "<xml><Encrypt>abc</Encrypt>", "callback.bad_envelope"},
      {"billion laughs", xml, kBillionLaughs + "<xml><Encrypt>&lol3;</Encrypt></xml>", "callback.bad_envelope"},
      {"external entity (XXE)", xml, kExternalEntity + "<xml><Encrypt>&xxe;</Encrypt></xml>", "callback.bad_envelope"},
      {"DOCTYPE without entities", xml, "<!DOCTYPE xml><xml><Encrypt>abc</Encrypt></xml>", "callback.bad_envelope"},
      {"JSON array", js, R"([{"encrypt":"abc"}])", "callback.bad_envelope"},
      {"JSON string", js, R"("abc")", "callback.bad_envelope"},
      {"JSON number encrypt", js, R"({"encrypt":123})", "callback.bad_envelope"},
      {"JSON null encrypt", js, R"({"encrypt":null})", "callback.bad_envelope"},
      {"JSON object encrypt", js, R"({"encrypt":{"a":"b"}})", "callback.bad_envelope"},
      {"JSON empty encrypt", js, R"({"encrypt":""})", "callback.bad_envelope"},
      {"JSON without encrypt", js, R"({"Encrypt":"abc"})", "callback.bad_envelope"},
      {"JSON truncated", js, R"({"encrypt":"abc")", "callback.bad_envelope"},
      {"JSON trailing garbage", js, R"({"encrypt":"abc"}{})", "callback.bad_envelope"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto r = extract_encrypted(c.format, c.body);
    if (c.expect.rfind("callback.", 0) == 0) {
      CHECK(code_of(r) == c.expect);
    } else {
      REQUIRE(code_of(r) == "");
      CHECK(*r == c.expect);
    }
  }
}

TEST_CASE("deeply nested bodies are handled without recursion", "[adapters][wecom][parse]") {
  constexpr std::size_t kDepth = 200000;
  std::string xml = "<xml><MsgType>text</MsgType>";
  for (std::size_t i = 0; i < kDepth; ++i) xml += "<a>";
  for (std::size_t i = 0; i < kDepth; ++i) xml += "</a>";
  xml += "</xml>";
  CHECK(code_of(parse_xml_payload(xml)) == "");
  CHECK(code_of(extract_encrypted(EnvelopeFormat::kXml, xml)) == "callback.bad_envelope");

  const std::string deep_json = R"({"msgtype":"text","x":)" + std::string(kDepth, '[') + std::string(kDepth, ']') + "}";
  CHECK(code_of(parse_json_payload(deep_json)) == "");
  CHECK(code_of(extract_encrypted(EnvelopeFormat::kJson, deep_json)) == "callback.bad_envelope");
  CHECK(code_of(parse_json_payload(std::string(kDepth, '['))) == "callback.bad_payload");
}

TEST_CASE("error messages never echo the body", "[adapters][wecom][parse]") {
  const std::string secret = "SECRETPAYLOAD";
  const std::string bodies[] = {"<xml><Encrypt>" + secret, "<xml><" + secret + "/></xml>", "{\"" + secret + "\":1}",
                                "[\"" + secret + "\"]", secret};
  for (const auto& body : bodies) {
    CAPTURE(body);
    for (auto format : {EnvelopeFormat::kXml, EnvelopeFormat::kJson}) {
      auto r = extract_encrypted(format, body);
      REQUIRE(code_of(r) != "");
      CHECK(r.error().message.find(secret) == std::string::npos);
    }
    auto x = parse_xml_payload(body);
    REQUIRE(code_of(x) != "");
    CHECK(x.error().message.find(secret) == std::string::npos);
    auto j = parse_json_payload(body);
    REQUIRE(code_of(j) != "");
    CHECK(j.error().message.find(secret) == std::string::npos);
  }
}

TEST_CASE("mutation: parsers and decrypt never throw on mangled bodies", "[adapters][wecom][parse][property]") {
  const std::uint64_t seed = Catch::rngSeed() != 0 ? Catch::rngSeed() : 0x5EED2026u;
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  const json v1 = load_vector("v1_post.json");
  auto crypt = MsgCrypt::create(v1.at("token").get<std::string>(), v1.at("encoding_aes_key").get<std::string>(),
                                v1.at("receive_id").get<std::string>());
  REQUIRE(code_of(crypt) == "");

  const std::vector<std::string> corpus = {
      v1.at("body").get<std::string>(),
      vector_field("v2_post.json", "body"),
      vector_field("v5_post.json", "body"),
      v1.at("expect_msg").get<std::string>(),
      vector_field("v3_post_xml.json", "expect_msg"),
      vector_field("v5_post.json", "expect_msg"),
      kTemplateCardEvent,
      kAibotCardEvent,
  };
  const std::vector<std::string> tokens = {
      "<!DOCTYPE x [<!ENTITY a \"b\">]>", "<!ENTITY a \"b\">", "]]>", "<![CDATA[", "&a;", "&#0;", "&#x10FFFF;",
      "<", ">", "</xml>", "<xml>", "\"", "{", "}", "[", "]", ":", ",", "\\u0000", "\\ud800", std::string(1, '\0'),
      "\xff", "\xe4\xbd", "<?xml version=\"1.0\"?>", "<Encrypt>", "</Encrypt>", "\"encrypt\":", "1e999999", "-"};
  const std::set<std::string> allowed = {"", "callback.bad_envelope", "callback.bad_payload", "crypto.bad_base64",
                                         "crypto.bad_ciphertext", "crypto.bad_buffer", "crypto.bad_receiveid",
                                         "crypto.bad_signature", "callback.not_utf8"};

  constexpr int kIterations = 2000;
  int threw = 0;
  std::string first_throw;
  std::set<std::string> unexpected;
  for (int i = 0; i < kIterations; ++i) {
    std::string s = corpus[rng() % corpus.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
      switch (rng() % 6) {
        case 0:
          if (!s.empty() && pos < s.size()) s[pos] = static_cast<char>(rng() & 0xff);
          break;
        case 1: s.insert(pos, 1, static_cast<char>(rng() & 0xff)); break;
        case 2: s.erase(pos, 1 + rng() % 16); break;
        case 3: s.insert(pos, tokens[rng() % tokens.size()]); break;
        case 4: s.insert(pos, s.substr(rng() % (s.size() + 1), rng() % 64)); break;
        default: s.resize(pos); break;
      }
    }
    try {
      std::vector<std::string> codes;
      for (auto format : {EnvelopeFormat::kXml, EnvelopeFormat::kJson}) {
        auto enc = extract_encrypted(format, s);
        codes.push_back(code_of(enc));
        if (enc) {
          codes.push_back(code_of(crypt->decrypt(*enc)));
          codes.push_back(code_of(crypt->verify_and_decrypt(v1.at("msg_signature").get<std::string>(),
                                                            v1.at("timestamp").get<std::string>(),
                                                            v1.at("nonce").get<std::string>(), *enc)));
        }
      }
      codes.push_back(code_of(parse_xml_payload(s)));
      codes.push_back(code_of(parse_json_payload(s)));
      for (const auto& c : codes)
        if (!allowed.count(c)) unexpected.insert(c);
    } catch (const std::exception& ex) {
      if (threw++ == 0) first_throw = "iteration " + std::to_string(i) + ": " + ex.what();
    }
  }
  CAPTURE(kIterations, first_throw);
  CHECK(threw == 0);
  CHECK(unexpected.empty());
}

namespace {

// Both readers of XML bodies (the one-pass scan of flat documents, with pugixml for the rest, and
// pugixml alone) must agree on everything: the error code and message, or every field.
std::string describe_payload(const yuer::Result<PayloadFields>& r) {
  if (!r) return "error " + r.error().code + ": " + r.error().message;
  return "kind=" + r->kind + " key=" + r->dedupe_key + " from=" + r->from_user +
         " created=" + std::to_string(r->created_at);
}

std::string describe_envelope(const std::string& body) {
  std::string a = body;
  auto r = extract_encrypted_in_place(EnvelopeFormat::kXml, a);
  if (!r) return "error " + r.error().code + ": " + r.error().message;
  return "encrypt=" + std::string(*r);
}

std::string describe_envelope_pugixml(const std::string& body) {
  std::string a = body;
  auto r = detail::extract_encrypted_xml_with_pugixml(a);
  if (!r) return "error " + r.error().code + ": " + r.error().message;
  return "encrypt=" + std::string(*r);
}

}  // namespace

TEST_CASE("XML bodies: the flat-document scan agrees with pugixml", "[adapters][wecom][parse]") {
  const std::string text_msg =
      "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[zhangwei12]]></FromUserName>"
      "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content>"
      "<MsgId>7000000000000000001</MsgId><AgentID>1000002</AgentID></xml>";
  const std::string envelope =
      "<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt>"
      "<AgentID><![CDATA[1000002]]></AgentID></xml>";
  const std::string docs[] = {
      text_msg,
      envelope,
      vector_field("v1_post.json", "body"),
      load_vector("v1_post.json").at("expect_msg").get<std::string>(),
      vector_field("v3_post_xml.json", "expect_msg"),
      kTemplateCardEvent,  // nested: pugixml
      kChangeExternalChat,
      kKfMsgOrEvent,
      "\n <xml>\n<MsgType>event</MsgType>\n<Event><![CDATA[enter_agent]]></Event>\n</xml>\n",
      "<xml><MsgType>event</MsgType></xml>",
      "<xml><MsgType><![CDATA[text]]></MsgType><MsgId>  </MsgId></xml>",  // blank text reads as ""
      "<xml><MsgType><![CDATA[text]]></MsgType><MsgId><![CDATA[ ]]></MsgId></xml>",  // blank CDATA does not
      "<xml><MsgType> text </MsgType><FromUserName> u </FromUserName><CreateTime> 12 </CreateTime></xml>",
      "<xml><MsgType>text</MsgType><MsgType>image</MsgType><MsgId>1</MsgId><MsgId>2</MsgId></xml>",
      "<xml><MsgType>a]]>b></MsgType></xml>",
      "<xml><MsgType><![CDATA[a]]b<c>&amp;]]></MsgType></xml>",
      "<xml><MsgType></MsgType></xml>",
      "<xml></xml>",
      "<xml><Encrypt></Encrypt></xml>",
      "<xml><Encrypt>\n  <![CDATA[abc]]>\n  </Encrypt></xml>",
      "<xml><Encrypt><![CDATA[]]></Encrypt></xml>",
      "<xml><Encrypt><![CDATA[ab]]><![CDATA[cd]]></Encrypt></xml>",  // two parts: pugixml joins them
      "<xml><Encrypt>ab<![CDATA[cd]]></Encrypt></xml>",
      "<xml><Encrypt>a&amp;b</Encrypt><MsgType>t&lt;</MsgType></xml>",
      "<xml><Encrypt>a&#65;b</Encrypt><MsgType>x</MsgType></xml>",
      "<xml><MsgType>a\r\nb</MsgType><Encrypt>a\r\nb</Encrypt></xml>",
      "<xml><MsgType><![CDATA[a\r\nb]]></MsgType></xml>",
      "<xml><MsgType a=\"1\">text</MsgType></xml>",
      "<xml a=\"1\"><MsgType>text</MsgType></xml>",
      "<xml ><MsgType>text</MsgType></xml >",
      "<xml><MsgType>text</MsgType ></xml>",
      "<xml><MsgType/><Encrypt/></xml>",
      "<xml><!-- c --><MsgType>text</MsgType></xml>",
      "<?xml version=\"1.0\"?><xml><MsgType>text</MsgType></xml>",
      "\xef\xbb\xbf<xml><MsgType>text</MsgType></xml>",
      "<!DOCTYPE xml><xml><MsgType>text</MsgType></xml>",
      "<xml><MsgType>text</MsgType></xml><xml></xml>",
      "<xml><MsgType>text</MsgType></xml>tail",
      "<xml><MsgType>text</MsgType></xml>\n\t ",
      "<xml><MsgType>text</msgtype></xml>",
      "<xml><MsgType>text</MsgType>",
      "<xml><MsgType>text",
      "<xml><MsgType><![CDATA[text</MsgType></xml>",
      "<xml><1a>x</1a><MsgType>t</MsgType></xml>",
      "<xml><a.b-c:d_e>x</a.b-c:d_e><MsgType>t</MsgType></xml>",
      "<xml><名>x</名><MsgType>t</MsgType></xml>",
      "<xml><MsgType>t\xff\xfe</MsgType><Encrypt>\xe4\xbd\xa0</Encrypt></xml>",
      std::string("<xml><MsgType>t\0x</MsgType></xml>", 32),
      "<root><MsgType>text</MsgType></root>",
      "<xml><Outer><MsgType>text</MsgType></Outer></xml>",
      "<xml><MsgType>text</MsgType><CreateTime>-5</CreateTime><CreateTime>7</CreateTime></xml>",
      "<xml><MsgType>text</MsgType><CreateTime>99999999999999999999</CreateTime></xml>",
      "",
      "<",
      "<xml>",
  };
  for (const auto& d : docs) {
    CAPTURE(d);
    CHECK(describe_payload(parse_xml_payload(d)) == describe_payload(detail::parse_xml_payload_with_pugixml(d)));
    CHECK(describe_envelope(d) == describe_envelope_pugixml(d));
  }
  // The common shapes take the scan, which returns a view into the body it was given.
  std::string body = envelope;
  auto enc = extract_encrypted_in_place(EnvelopeFormat::kXml, body);
  REQUIRE(code_of(enc) == "");
  CHECK(*enc == "abc+/=");
  CHECK(enc->data() >= body.data());
  CHECK(enc->data() + enc->size() <= body.data() + body.size());
  CHECK(body == envelope);  // untouched (pugixml's in-place parse would have written NULs into it)
  auto f = parse_xml_payload(text_msg);
  REQUIRE(code_of(f) == "");
  CHECK(f->kind == "text");
  CHECK(f->dedupe_key == "msg:7000000000000000001");
  CHECK(f->from_user == "zhangwei12");
  CHECK(f->created_at == 1700000000);
}

TEST_CASE("mutation: the flat-document scan agrees with pugixml on mangled bodies",
          "[adapters][wecom][parse][property]") {
  const std::uint64_t seed = Catch::rngSeed() != 0 ? Catch::rngSeed() : 0xF1A7u;
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  const std::vector<std::string> corpus = {
      "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName>"
      "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content>"
      "<MsgId>7000000000000000001</MsgId><AgentID>1000002</AgentID></xml>",
      "<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt>"
      "<AgentID><![CDATA[1000002]]></AgentID></xml>",
      "<xml>\n<MsgType>event</MsgType>\n<Event>enter_agent</Event>\n<Encrypt> x </Encrypt>\n</xml>",
      kKfMsgOrEvent,
  };
  const std::vector<std::string> tokens = {"<",     ">",         "</",  "/>",       "<![CDATA[", "]]>", "&amp;",
                                           "&",     "\r",        "\n",  " ",        "\t",        "=",   "\"",
                                           "<xml>", "</xml>",    "<!--", "-->",     "<?x?>",     "<a>", "</a>",
                                           "<MsgType>", "</MsgType>", "<Encrypt>", "</Encrypt>", "<MsgId>",
                                           "</MsgId>", std::string(1, '\0'), "\xe4\xbd\xa0"};
  constexpr int kIterations = 3000;
  int disagreements = 0;
  std::string first;
  for (int i = 0; i < kIterations; ++i) {
    std::string s = corpus[rng() % corpus.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t pos = rng() % (s.size() + 1);
      switch (rng() % 4) {
        case 0: s.insert(pos, tokens[rng() % tokens.size()]); break;
        case 1: s.erase(pos, 1 + rng() % 8); break;
        case 2:
          if (pos < s.size()) s[pos] = static_cast<char>(rng() & 0xff);
          break;
        default: s.insert(pos, s.substr(rng() % (s.size() + 1), rng() % 32)); break;
      }
    }
    const bool same = describe_payload(parse_xml_payload(s)) == describe_payload(detail::parse_xml_payload_with_pugixml(s)) &&
                      describe_envelope(s) == describe_envelope_pugixml(s);
    if (!same && disagreements++ == 0) first = s;
  }
  CAPTURE(first);
  CHECK(disagreements == 0);
}
