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

std::string dedupe_key(std::string_view msgid, std::string_view plaintext) {
  if (msgid.empty()) return "sha256:" + sha256_hex(plaintext);
  std::string key;
  key.reserve(4 + msgid.size());
  key += "msg:";
  key += msgid;
  return key;
}

// ---- Fast path for flat documents ------------------------------------------------------------
// Almost every callback body and payload is a flat document: <xml>, then child elements that hold
// one CDATA section or plain text, then </xml>. For exactly those documents, a single forward scan
// gives the same element texts as pugixml with kXmlOptions (checked by a differential test against
// the pugixml path, callback_parse_test.cpp), without building a tree or allocating. Anything else
// (attributes, nesting, comments, processing instructions, DOCTYPE, entity or character
// references, CR, NUL, self-closing or non-ASCII names, text and CDATA mixed) is left to pugixml,
// so the accepted language and every error stay those of the pugixml path.
//   flat    := ws* "<xml>" (ws* child)* ws* "</xml>" ws*
//   child   := "<" name ">" content "</" name ">"
//   content := ws* "<![CDATA[" (any but "]]>")* "]]>" ws*  |  (any but "<" "&")*
//   name    := [A-Za-z_:] [A-Za-z0-9_:.-]*       ws := " " | "\t" | "\n"
// No CR and no NUL anywhere (pugixml normalises CR LF; NUL ends its input).
// pugixml drops text that is whitespace only (no parse_ws_pcdata), so such content reads as "".

bool is_flat_ws(char c) { return c == ' ' || c == '\t' || c == '\n'; }
bool is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }

// Calls on_child(name, text) for each child of the root in document order and returns true when
// `doc` is a flat document as above; returns false (having perhaps called on_child for some
// children) when it is not, and the caller must use pugixml instead.
template <class OnChild>
bool scan_flat_xml(std::string_view doc, OnChild&& on_child) {
  if (doc.find('\0') != std::string_view::npos || doc.find('\r') != std::string_view::npos) return false;
  std::size_t i = 0;
  const std::size_t n = doc.size();
  auto skip_ws = [&] {
    while (i < n && is_flat_ws(doc[i])) ++i;
  };
  auto take = [&](std::string_view s) {
    if (doc.substr(i, s.size()) != s) return false;
    i += s.size();
    return true;
  };
  skip_ws();
  if (!take("<xml>")) return false;
  for (;;) {
    skip_ws();
    if (i + 1 >= n || doc[i] != '<') return false;
    if (doc[i + 1] == '/') break;  // the root's end tag
    ++i;
    const std::size_t name_at = i;
    if (i >= n || !is_name_start(doc[i])) return false;
    while (i < n && is_name_char(doc[i])) ++i;
    const std::string_view name = doc.substr(name_at, i - name_at);
    if (!take(">")) return false;
    std::string_view text;
    const std::size_t content_at = i;
    skip_ws();
    if (doc.substr(i, 9) == "<![CDATA[") {
      i += 9;
      const auto end = doc.find("]]>", i);
      if (end == std::string_view::npos) return false;
      text = doc.substr(i, end - i);
      i = end + 3;
      skip_ws();
    } else {
      i = content_at;
      while (i < n && doc[i] != '<' && doc[i] != '&') ++i;
      if (i >= n || doc[i] != '<') return false;
      text = doc.substr(content_at, i - content_at);
      bool blank = true;
      for (char c : text) blank = blank && is_flat_ws(c);
      if (blank) text = {};
    }
    if (!take("</") || !take(name) || !take(">")) return false;
    on_child(name, text);
  }
  if (!take("</xml>")) return false;
  skip_ws();
  return i == n;
}

}  // namespace

std::string xml_text(pugi::xml_node element) {
  std::string out;
  for (auto child : element.children())
    if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) out += child.value();
  return out;
}

Result<std::string_view> extract_encrypted_in_place(EnvelopeFormat format, std::string& body) {
  if (format == EnvelopeFormat::kXml) {
    std::string_view encrypt;
    bool found = false;
    if (scan_flat_xml(body, [&](std::string_view name, std::string_view text) {
          if (!found && name == "Encrypt") {
            found = true;
            encrypt = text;
          }
        })) {
      if (!found) return fail(kBadEnvelope, "XML envelope has no <Encrypt> element");
      if (encrypt.empty()) return fail(kBadEnvelope, "XML envelope has an empty <Encrypt> element");
      return encrypt;  // a view into `body`, which the fast path left as it was
    }
    return detail::extract_encrypted_xml_with_pugixml(body);
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

namespace detail {

Result<std::string_view> extract_encrypted_xml_with_pugixml(std::string& body) {
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
    joined = xml_text(encrypt);
    if (joined.empty()) return fail(kBadEnvelope, "XML envelope has an empty <Encrypt> element");
  }
  body = std::move(joined);
  return std::string_view(body);
}

Result<PayloadFields> parse_xml_payload_with_pugixml(std::string_view plaintext) {
  // Checked here too (again, when called from parse_xml_payload) so both readers answer alike.
  if (!valid_utf8(plaintext)) return fail(kNotUtf8, "XML payload is not valid UTF-8");
  pugi::xml_document doc;
  auto root = load_xml(doc, plaintext, kBadPayload);
  if (!root) return root.error();
  const std::string msg_type = xml_text(root->child("MsgType"));
  if (msg_type.empty()) return fail(kBadPayload, "XML payload has no MsgType");
  PayloadFields f;
  // An event without <Event> still gets stored; its kind is then just "event:".
  f.kind = msg_type == "event" ? "event:" + xml_text(root->child("Event")) : msg_type;
  f.dedupe_key = dedupe_key(xml_text(root->child("MsgId")), plaintext);
  f.from_user = xml_text(root->child("FromUserName"));
  f.created_at = to_int64(xml_text(root->child("CreateTime")));
  // pugixml writes character references (&#xD800;, &#x110000;) as UTF-8 without checking them.
  if (!valid_utf8(f.kind) || !valid_utf8(f.dedupe_key) || !valid_utf8(f.from_user))
    return fail(kNotUtf8, "XML payload has a character reference that is not a Unicode character");
  return f;
}

}  // namespace detail

Result<std::string> extract_encrypted(EnvelopeFormat format, std::string_view body) {
  std::string copy(body);
  auto encrypted = extract_encrypted_in_place(format, copy);
  if (!encrypted) return encrypted.error();
  return ok(std::string(*encrypted));
}

Result<PayloadFields> parse_xml_payload(std::string_view plaintext) {
  if (!valid_utf8(plaintext)) return fail(kNotUtf8, "XML payload is not valid UTF-8");
  // The first element of each name counts, as with pugixml's child(name). The flat scan takes no
  // character references ('&' sends the document to pugixml, whose path checks what they became).
  std::string_view msg_type, event, msg_id, from_user, create_time;
  bool has_msg_type = false, has_event = false, has_msg_id = false, has_from = false, has_time = false;
  auto first = [](bool& seen, std::string_view& field, std::string_view text) {
    if (!seen) {
      seen = true;
      field = text;
    }
  };
  if (!scan_flat_xml(plaintext, [&](std::string_view name, std::string_view text) {
        if (name == "MsgType") first(has_msg_type, msg_type, text);
        else if (name == "Event") first(has_event, event, text);
        else if (name == "MsgId") first(has_msg_id, msg_id, text);
        else if (name == "FromUserName") first(has_from, from_user, text);
        else if (name == "CreateTime") first(has_time, create_time, text);
      }))
    return detail::parse_xml_payload_with_pugixml(plaintext);
  if (msg_type.empty()) return fail(kBadPayload, "XML payload has no MsgType");
  PayloadFields f;
  if (msg_type == "event") {
    f.kind.reserve(6 + event.size());
    f.kind += "event:";
    f.kind += event;
  } else {
    f.kind = msg_type;
  }
  f.dedupe_key = dedupe_key(msg_id, plaintext);
  f.from_user = from_user;
  f.created_at = to_int64(create_time);
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
