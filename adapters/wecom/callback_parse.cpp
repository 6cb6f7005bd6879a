#include "adapters/wecom/callback_parse.h"

#include "daemon/base/secure.h"

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <charconv>
#include <string>

namespace yuer::adapters::wecom {
namespace {

using nlohmann::json;

// Result<std::string> cannot be built implicitly from a std::string: under C++20 the aggregate
// Error is paren-constructible from a string too, so Boost disables the implicit conversion.
Result<std::string> ok(std::string s) { return Result<std::string>(boost::system::in_place_value, std::move(s)); }

constexpr const char* kBadEnvelope = "callback.bad_envelope";
constexpr const char* kBadPayload = "callback.bad_payload";
constexpr const char* kNotUtf8 = "callback.not_utf8";

// Strict UTF-8 (RFC 3629, the Unicode "well-formed" table): no overlong forms (C0 80, E0 80 AF),
// no surrogates (ED A0 80), nothing above U+10FFFF, no truncated sequence. WeCom sends callbacks
// as UTF-8 XML/JSON (https://developer.work.weixin.qq.com/document/path/90930, reference §1); pugixml
// does not check, so without this a signed payload with stray bytes would be stored as it came.
bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) n = 1;
    else if (c == 0xE0) n = 2, lo = 0xA0;
    else if (c == 0xED) n = 2, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) n = 2;
    else if (c == 0xF0) n = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) n = 3;
    else if (c == 0xF4) n = 3, hi = 0x8F;
    else return false;  // 80..C1 (continuation or overlong lead), F5..FF
    if (static_cast<std::size_t>(end - p) <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (std::size_t i = 2; i <= n; ++i)
      if (p[i] < 0x80 || p[i] > 0xBF) return false;
    p += n + 1;
  }
  return true;
}

// Finds a DOCTYPE node anywhere in the tree (pugixml's traversal is iterative, so deep
// documents cannot exhaust the stack).
struct DoctypeFinder : pugi::xml_tree_walker {
  bool found = false;
  bool for_each(pugi::xml_node& node) override {
    if (node.type() == pugi::node_doctype) {
      found = true;
      return false;
    }
    return true;
  }
};

// Checks what `doc` was loaded from (`parsed`) and returns its single root element <xml>. Error
// messages name the problem and a byte offset, never the content.
Result<pugi::xml_node> checked_root(pugi::xml_document& doc, const pugi::xml_parse_result& parsed, const char* code) {
  if (!parsed)
    return fail(code, std::string("XML is not well-formed: ") + parsed.description() + " at offset " +
                          std::to_string(parsed.offset));
  DoctypeFinder finder;
  doc.traverse(finder);
  if (finder.found) return fail(code, "XML contains a DOCTYPE declaration, which is refused");
  pugi::xml_node root;
  int elements = 0;
  for (auto child : doc.children())
    if (child.type() == pugi::node_element) {
      if (!root) root = child;
      ++elements;
    }
  if (elements != 1 || std::string_view(root.name()) != "xml")
    return fail(code, "XML document does not have a single root element <xml>");
  return root;
}

// parse_doctype keeps DOCTYPE (and with it any ENTITY declaration) in the tree so it can be
// refused instead of being skipped silently. pugixml never expands custom entities.
constexpr unsigned kXmlOptions = pugi::parse_default | pugi::parse_doctype;

// Loads a copy of `text` into `doc` and returns its single root element <xml>.
Result<pugi::xml_node> load_xml(pugi::xml_document& doc, std::string_view text, const char* code) {
  // XML forbids NUL, and pugixml would stop reading at one and ignore the rest.
  if (text.find('\0') != std::string_view::npos) return fail(code, "XML contains a NUL byte");
  return checked_root(doc, doc.load_buffer(text.data(), text.size(), kXmlOptions, pugi::encoding_utf8), code);
}

// Like load_xml, but parses `buf` in place (pugixml then points into it and overwrites parts of
// it): no copy of the document. `buf` must outlive `doc`.
Result<pugi::xml_node> load_xml_in_place(pugi::xml_document& doc, std::string& buf, const char* code) {
  if (buf.find('\0') != std::string::npos) return fail(code, "XML contains a NUL byte");
  return checked_root(doc, doc.load_buffer_inplace(buf.data(), buf.size(), kXmlOptions, pugi::encoding_utf8), code);
}

// Text content of an element: its character data and CDATA sections, joined (both forms are
// used by WeCom, §1.9.7).
std::string text_of(pugi::xml_node element) {
  std::string out;
  for (auto child : element.children())
    if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) out += child.value();
  return out;
}

std::int64_t to_int64(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return 0;
  return v;
}

const json* member(const json& obj, const char* name) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

std::string string_member(const json& obj, const char* name) {
  const json* v = member(obj, name);
  return v && v->is_string() ? v->get_ref<const std::string&>() : std::string();
}

std::string dedupe_key(const std::string& msgid, std::string_view plaintext) {
  return msgid.empty() ? "sha256:" + sha256_hex(plaintext) : "msg:" + msgid;
}

}  // namespace

Result<std::string_view> extract_encrypted_in_place(EnvelopeFormat format, std::string& body) {
  if (format == EnvelopeFormat::kXml) {
    std::string joined;  // only for an <Encrypt> split into several text/CDATA parts
    {
      pugi::xml_document doc;
      auto root = load_xml_in_place(doc, body, kBadEnvelope);
      if (!root) return root.error();
      auto encrypt = root->child("Encrypt");
      if (!encrypt) return fail(kBadEnvelope, "XML envelope has no <Encrypt> element");
      // The usual envelope has one CDATA section: its text is already a NUL-terminated run of
      // `body`, since pugixml parsed in place.
      pugi::xml_node only;
      int parts = 0;
      for (auto child : encrypt.children())
        if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
          only = child;
          ++parts;
        }
      if (parts == 0 || (parts == 1 && *only.value() == '\0'))
        return fail(kBadEnvelope, "XML envelope has an empty <Encrypt> element");
      if (parts == 1) return std::string_view(only.value());
      joined = text_of(encrypt);
      if (joined.empty()) return fail(kBadEnvelope, "XML envelope has an empty <Encrypt> element");
    }
    body = std::move(joined);
    return std::string_view(body);
  }
  const json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded()) return fail(kBadEnvelope, "JSON envelope is not well-formed");
  if (!j.is_object()) return fail(kBadEnvelope, "JSON envelope is not an object");
  const json* encrypt = member(j, "encrypt");
  if (!encrypt || !encrypt->is_string()) return fail(kBadEnvelope, "JSON envelope has no string \"encrypt\" member");
  if (encrypt->get_ref<const std::string&>().empty())
    return fail(kBadEnvelope, "JSON envelope has an empty \"encrypt\" member");
  body = encrypt->get<std::string>();
  return std::string_view(body);
}

Result<std::string> extract_encrypted(EnvelopeFormat format, std::string_view body) {
  std::string copy(body);
  auto encrypted = extract_encrypted_in_place(format, copy);
  if (!encrypted) return encrypted.error();
  return ok(std::string(*encrypted));
}

Result<PayloadFields> parse_xml_payload(std::string_view plaintext) {
  if (!valid_utf8(plaintext)) return fail(kNotUtf8, "XML payload is not valid UTF-8");
  pugi::xml_document doc;
  auto root = load_xml(doc, plaintext, kBadPayload);
  if (!root) return root.error();
  const std::string msg_type = text_of(root->child("MsgType"));
  if (msg_type.empty()) return fail(kBadPayload, "XML payload has no MsgType");
  PayloadFields f;
  // An event without <Event> still gets stored; its kind is then just "event:".
  f.kind = msg_type == "event" ? "event:" + text_of(root->child("Event")) : msg_type;
  f.dedupe_key = dedupe_key(text_of(root->child("MsgId")), plaintext);
  f.from_user = text_of(root->child("FromUserName"));
  f.created_at = to_int64(text_of(root->child("CreateTime")));
  // pugixml writes character references (&#xD800;, &#x110000;) as UTF-8 without checking them.
  if (!valid_utf8(f.kind) || !valid_utf8(f.dedupe_key) || !valid_utf8(f.from_user))
    return fail(kNotUtf8, "XML payload has a character reference that is not a Unicode character");
  return f;
}

Result<PayloadFields> parse_json_payload(std::string_view plaintext) {
  // nlohmann's parser refuses bad UTF-8 inside strings too; checking first gives it its own reason.
  if (!valid_utf8(plaintext)) return fail(kNotUtf8, "JSON payload is not valid UTF-8");
  const json j = json::parse(plaintext.begin(), plaintext.end(), nullptr, false);
  if (j.is_discarded()) return fail(kBadPayload, "JSON payload is not well-formed");
  if (!j.is_object()) return fail(kBadPayload, "JSON payload is not an object");
  const std::string msgtype = string_member(j, "msgtype");
  if (msgtype.empty()) return fail(kBadPayload, "JSON payload has no string msgtype");
  PayloadFields f;
  if (msgtype == "event") {
    const json* event = member(j, "event");
    // Like XML: an event without an eventtype is stored with kind "aibot:event:".
    f.kind = "aibot:event:" + (event ? string_member(*event, "eventtype") : std::string());
  } else {
    f.kind = "aibot:" + msgtype;
  }
  std::string msgid;
  if (const json* id = member(j, "msgid")) {
    if (id->is_string())
      msgid = id->get_ref<const std::string&>();
    else if (id->is_number_unsigned())
      msgid = std::to_string(id->get<std::uint64_t>());
    else if (id->is_number_integer())
      msgid = std::to_string(id->get<std::int64_t>());
  }
  f.dedupe_key = dedupe_key(msgid, plaintext);
  if (const json* from = member(j, "from")) f.from_user = string_member(*from, "userid");
  if (const json* t = member(j, "create_time")) {
    if (t->is_number_unsigned()) {
      const auto u = t->get<std::uint64_t>();
      f.created_at = u <= static_cast<std::uint64_t>(INT64_MAX) ? static_cast<std::int64_t>(u) : 0;
    } else if (t->is_number_integer()) {
      f.created_at = t->get<std::int64_t>();
    }
  }
  return f;
}

}  // namespace yuer::adapters::wecom
