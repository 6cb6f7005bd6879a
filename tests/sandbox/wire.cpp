#include "tests/sandbox/wire.h"

#include <boost/url/parse.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <random>

namespace yuer::sandbox {

std::optional<std::string> Target::param(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Target parse_target(std::string_view target) {
  Target t;
  auto u = boost::urls::parse_origin_form(target);
  if (!u) {
    t.path = std::string(target.substr(0, target.find('?')));
    return t;
  }
  t.path = std::string(u->encoded_path());
  for (auto p : u->params()) t.query.emplace(std::string(p.key), p.has_value ? std::string(p.value) : std::string());
  return t;
}

std::string_view errmsg_text(int errcode) {
  // Texts seen in real responses where we have them (45009, 40058 from captures cited in the
  // reference §3.4 and dromara/domain-admin#82); the rest paraphrase the global error page 90313.
  switch (errcode) {
    case -1: return "system busy";
    case 40001: return "invalid credential";
    case 40007: return "invalid media_id";
    case 40008: return "invalid message type";
    case 40009: return "invalid image size";
    case 40013: return "invalid corpid";
    case 40014: return "invalid access_token";
    case 40056: return "invalid agentid";
    case 40058: return "invalid Request Parameter";
    case 41001: return "access_token missing";
    case 41002: return "corpid missing";
    case 41004: return "corpsecret missing";
    case 41006: return "media_id missing";
    case 41011: return "agentid missing";
    case 42001: return "access_token expired";
    case 43002: return "require POST method";
    case 44004: return "empty content";
    case 45002: return "content size out of limit";
    case 45008: return "article size out of limit";
    case 45009: return "api freq out of limit";
    case 81013: return "user & party & tag all invalid";
    case 82001: return "All touser & toparty & totag invalid";
    case 86001: return "invalid chatid";
    case 86003: return "chatid not found";
    case 86008: return "chat not created by this app";
    case 93000: return "invalid webhook url";
    default: return "unknown error";
  }
}

ApiReply wecom_error(int errcode, std::string_view detail, std::int64_t unix_seconds) {
  std::string msg = detail.empty() ? std::string(errmsg_text(errcode)) : std::string(detail);
  msg += ", hint: [" + std::to_string(unix_seconds) + random_digits(15) + "], from ip: 127.0.0.1, more info at "
         "https://open.work.weixin.qq.com/devtool/query?e=" + std::to_string(errcode);
  ApiReply r;
  r.body = dump(nlohmann::json{{"errcode", errcode}, {"errmsg", msg}});
  r.errcode = errcode;
  return r;
}

ApiReply wecom_ok(const nlohmann::json& extra) {
  nlohmann::json j = nlohmann::json::object();
  j["errcode"] = 0;
  j["errmsg"] = "ok";
  for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
  ApiReply r;
  r.body = dump(j);
  return r;
}

ApiReply control_json(const nlohmann::json& body, unsigned status) {
  ApiReply r;
  r.status = status;
  r.body = dump(body);
  return r;
}

ApiReply control_error(unsigned status, std::string_view code, std::string_view message) {
  return control_json({{"error", {{"code", code}, {"message", message}}}}, status);
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

namespace {
std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}
std::string random_from(std::string_view alphabet, std::size_t n) {
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string out(n, ' ');
  for (auto& c : out) c = alphabet[pick(rng())];
  return out;
}
}  // namespace

std::string random_alnum(std::size_t n) {
  return random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", n);
}
std::string random_digits(std::size_t n) { return random_from("0123456789", n); }
std::uint64_t random_u64() { return rng()(); }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<std::string> split_bar(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    auto bar = s.find('|', pos);
    if (bar == std::string::npos) bar = s.size();
    if (bar > pos) out.push_back(s.substr(pos, bar - pos));
    pos = bar + 1;
  }
  return out;
}

std::string join_bar(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "|") + s;
  return out;
}

std::string utf8_cut(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::optional<std::string> string_field(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return std::nullopt;
  return obj[key].get<std::string>();
}

std::optional<std::int64_t> int_field(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key)) return std::nullopt;
  const auto& v = obj[key];
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (!v.is_string()) return std::nullopt;
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoll(s);
}

std::optional<bool> bool_field(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_boolean()) return std::nullopt;
  return obj[key].get<bool>();
}

const nlohmann::json& array_field(const nlohmann::json& obj, const char* key) {
  static const nlohmann::json empty = nlohmann::json::array();
  if (!obj.is_object()) return empty;
  auto it = obj.find(key);
  return it != obj.end() && it->is_array() ? *it : empty;
}

std::vector<std::string> string_list(const nlohmann::json& obj, const char* key) {
  std::vector<std::string> out;
  for (const auto& v : array_field(obj, key))
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

namespace {

// The value of `key` in a header parameter list ("form-data; name=\"media\"; filename=\"a.txt\"").
std::string header_param(std::string_view header, std::string_view key) {
  std::size_t pos = 0;
  while ((pos = header.find(key, pos)) != std::string_view::npos) {
    bool starts = pos == 0 || header[pos - 1] == ';' || header[pos - 1] == ' ';
    std::size_t eq = pos + key.size();
    if (!starts || eq >= header.size() || header[eq] != '=') {
      pos = eq;
      continue;
    }
    std::size_t v = eq + 1;
    if (v < header.size() && header[v] == '"') {
      auto close = header.find('"', v + 1);
      if (close == std::string_view::npos) return {};
      return std::string(header.substr(v + 1, close - v - 1));
    }
    auto end = header.find(';', v);
    return std::string(header.substr(v, end == std::string_view::npos ? std::string_view::npos : end - v));
  }
  return {};
}

}  // namespace

std::optional<std::vector<FormPart>> parse_multipart(std::string_view content_type, std::string_view body) {
  if (lower(std::string(content_type.substr(0, 19))) != "multipart/form-data") return std::nullopt;
  std::string boundary = header_param(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 70) return std::nullopt;
  const std::string delim = "--" + boundary;
  std::vector<FormPart> parts;
  std::size_t pos = body.find(delim);
  if (pos == std::string_view::npos) return std::nullopt;
  while (true) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") return std::nullopt;
    pos += 2;
    auto headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) return std::nullopt;
    FormPart part;
    std::string_view headers = body.substr(pos, headers_end - pos);
    std::size_t line_start = 0;
    while (line_start <= headers.size()) {
      auto line_end = headers.find("\r\n", line_start);
      std::string_view line = headers.substr(line_start, line_end == std::string_view::npos ? std::string_view::npos
                                                                                           : line_end - line_start);
      auto colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name = lower(std::string(line.substr(0, colon)));
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (name == "content-disposition") {
          part.name = header_param(value, "name");
          part.filename = header_param(value, "filename");
        } else if (name == "content-type") {
          part.content_type = std::string(value);
        }
      }
      if (line_end == std::string_view::npos) break;
      line_start = line_end + 2;
    }
    std::size_t data_start = headers_end + 4;
    auto next = body.find("\r\n" + delim, data_start);
    if (next == std::string_view::npos) return std::nullopt;
    part.data = std::string(body.substr(data_start, next - data_start));
    parts.push_back(std::move(part));
    pos = next + 2;
  }
}

std::string md5_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_md5(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

}  // namespace yuer::sandbox
