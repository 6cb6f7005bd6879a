// WeCom's wire conventions as the sandbox speaks them: requests split into path + decoded query,
// replies as HTTP 200 with {"errcode":N,"errmsg":"..."} (§0, §11 of the reference), small helpers
// for ids and URL encoding. Pure functions; nothing here touches a socket.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::sandbox {

// One HTTP request as the logic sees it.
struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path + "?" + query, as on the request line
  std::string body;
  std::string content_type = {};  // the Content-Type header (multipart uploads need its boundary)
};

// One HTTP response. WeCom answers errors with HTTP 200 and an errcode; `errcode` mirrors the body
// for the request record (0 for success, or when the body is not a WeCom envelope).
struct ApiReply {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json; charset=UTF-8";
  int errcode = 0;
};

// Path and decoded query parameters of a request target. A malformed target yields the raw text
// as path and no parameters (the caller then answers 404 or a WeCom error, never throws).
struct Target {
  std::string path;
  std::map<std::string, std::string> query;
  std::optional<std::string> param(const std::string& name) const;
};
Target parse_target(std::string_view target);

// English errmsg prefix WeCom uses for `errcode` (approximate for codes whose real text we have
// not seen; clients must never parse errmsg, §11).
std::string_view errmsg_text(int errcode);

// WeCom's error envelope: {"errcode":N,"errmsg":"<detail or table text>, hint: [<id>], from ip:
// 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=N"}, HTTP 200. The hint
// looks like the real one (unix seconds then 15 digits, e.g. [1704540159128593240839785]).
ApiReply wecom_error(int errcode, std::string_view detail, std::int64_t unix_seconds);

// {"errcode":0,"errmsg":"ok"} merged with `extra`'s fields.
ApiReply wecom_ok(const nlohmann::json& extra = nlohmann::json::object());

// A JSON reply for the control API (HTTP `status`, no errcode).
ApiReply control_json(const nlohmann::json& body, unsigned status = 200);
ApiReply control_error(unsigned status, std::string_view code, std::string_view message);

// Serialises JSON with invalid UTF-8 replaced (recorded bodies may contain anything).
std::string dump(const nlohmann::json& j);

// Percent-encodes everything except RFC 3986 unreserved characters.
std::string url_encode(std::string_view s);

// Random strings from a thread-local generator seeded from std::random_device.
std::string random_alnum(std::size_t n);
std::string random_digits(std::size_t n);
std::uint64_t random_u64();

// ASCII lower case (WeCom compares userids case-insensitively).
std::string lower(std::string s);
// "a|b|c" → {"a","b","c"} (empty parts dropped) and back.
std::vector<std::string> split_bar(const std::string& s);
std::string join_bar(const std::vector<std::string>& v);
// Cuts `s` to at most `n` bytes without splitting a UTF-8 sequence.
std::string utf8_cut(const std::string& s, std::size_t n);
// obj[key] if it is a string.
std::optional<std::string> string_field(const nlohmann::json& obj, const char* key);
// obj[key] if it is an integer (or a string of digits, as WeCom accepts for ids).
std::optional<std::int64_t> int_field(const nlohmann::json& obj, const char* key);
// obj[key] if it is a boolean.
std::optional<bool> bool_field(const nlohmann::json& obj, const char* key);
// obj[key] if it is an array, else an empty array (never throws; for reading saved state).
const nlohmann::json& array_field(const nlohmann::json& obj, const char* key);
// The string elements of obj[key] (other elements and a missing key give nothing).
std::vector<std::string> string_list(const nlohmann::json& obj, const char* key);

// One part of a multipart/form-data body (RFC 7578).
struct FormPart {
  std::string name;
  std::string filename;
  std::string content_type;
  std::string data;
};
// The parts of `body` for the boundary in `content_type`, or nullopt when the header has no
// boundary or the body is not well-formed multipart.
std::optional<std::vector<FormPart>> parse_multipart(std::string_view content_type, std::string_view body);

// Lower-case hex MD5 of `bytes` (the webhook image check, customer groups' member_version).
std::string md5_hex(std::string_view bytes);

// UTF-8 byte length (WeCom's limits are in bytes of UTF-8).
inline std::size_t utf8_bytes(std::string_view s) { return s.size(); }

}  // namespace yuer::sandbox
