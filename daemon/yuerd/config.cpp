#include "daemon/yuerd/config.h"

#include "daemon/base/log.h"
#include "daemon/base/secure.h"
#include "daemon/store/field_cipher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

namespace yuer::yuerd {
namespace {

namespace fs = std::filesystem;
using namespace std::string_view_literals;

constexpr std::size_t kMaxConfigBytes = 1024 * 1024;
constexpr std::size_t kMaxSecretBytes = 64 * 1024;
constexpr std::string_view kZoneInfoDir = "/usr/share/zoneinfo";

// A table of the document together with its dotted name for messages. `node` is null when the
// table is absent; `line` is then the line of the nearest enclosing table (or 1).
struct Table {
  const toml::table* node = nullptr;
  std::string name;
  std::uint32_t line = 1;

  std::string key(std::string_view k) const { return name.empty() ? std::string(k) : name + "." + std::string(k); }
  const toml::node* find(std::string_view k) const { return node ? node->get(k) : nullptr; }
};

// What a secret must look like; `check` returns what is wrong (never quoting the value) or "".
struct SecretRule {
  std::string_view name;
  std::string (*check)(std::string_view value);
  std::size_t max_bytes = kMaxSecretBytes;  // a file of many robot keys is larger than one secret
};

std::uint32_t line_of(const toml::source_region& r) { return r.begin.line ? r.begin.line : 1; }

std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

bool all_of_class(std::string_view s, bool (*ok)(char)) { return std::all_of(s.begin(), s.end(), ok); }
bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_id_char(char c) { return is_alnum(c) || c == '_' || c == '-'; }
bool is_bot_name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }
bool is_visible_ascii(char c) { return c > 0x20 && c < 0x7f; }

// https://developer.work.weixin.qq.com/document/path/90930: Token is up to 32 letters and digits.
std::string check_callback_token(std::string_view v) {
  if (v.empty() || v.size() > 32 || !all_of_class(v, is_alnum))
    return fmt::format("expected 1 to 32 characters of A-Z, a-z, 0-9 (got {} characters)", v.size());
  return {};
}

// https://developer.work.weixin.qq.com/document/path/90930: EncodingAESKey is 43 letters and digits.
std::string check_aes_key(std::string_view v) {
  if (v.size() != 43 || !all_of_class(v, is_alnum))
    return fmt::format("expected exactly 43 characters of A-Z, a-z, 0-9 (got {} characters)", v.size());
  return {};
}

// It travels in "Authorization: Bearer …", so visible ASCII only.
std::string check_admin_token(std::string_view v) {
  if (v.size() < 16 || v.size() > 512 || !all_of_class(v, is_visible_ascii))
    return fmt::format("expected 16 to 512 visible ASCII characters without spaces (got {} characters)", v.size());
  return {};
}

// https://developer.work.weixin.qq.com/document/path/91039: corpsecret, printable ASCII.
std::string check_app_secret(std::string_view v) {
  if (v.empty() || v.size() > 256 || !all_of_class(v, is_visible_ascii))
    return fmt::format("expected 1 to 256 visible ASCII characters (got {} characters)", v.size());
  return {};
}

// Robot keys: one "group key" pair per line; blank lines and lines starting with # are skipped.
bool parse_robot_keys(std::string_view text, std::map<std::string, std::string>* out, std::string* why) {
  std::map<std::string, std::string> seen;
  for (const auto& [line_no, group, key] : key_file_lines(text)) {
    if (group.empty() || key.empty() || key.find_first_of(" \t") != std::string_view::npos || group.size() > 64 ||
        key.size() > 128 || !all_of_class(group, is_id_char) || !all_of_class(key, is_visible_ascii)) {
      if (why) *why = fmt::format("line {}: expected \"<group> <key>\" (group: letters, digits, _ and -)", line_no);
      return false;
    }
    if (!seen.emplace(std::string(group), std::string(key)).second) {
      if (why) *why = fmt::format("line {}: group {} appears twice", line_no, group);
      return false;
    }
  }
  if (out) *out = std::move(seen);
  return true;
}

std::string check_robot_keys(std::string_view v) {
  std::string why;
  if (!parse_robot_keys(v, nullptr, &why)) return why;
  return {};
}

constexpr SecretRule kAppSecret{"secret", check_app_secret};
constexpr SecretRule kRobotKeys{"keys", check_robot_keys, 16 * 1024 * 1024};
constexpr SecretRule kCallbackToken{"token", check_callback_token};
constexpr SecretRule kAesKey{"aes_key", check_aes_key};
constexpr SecretRule kAdminToken{"token", check_admin_token};

// The HMAC key under which phone numbers are stored: long enough that hashes of the 10^9 possible
// mobile numbers cannot be recomputed without it.
std::string check_phone_key(std::string_view v) {
  if (v.size() < 16 || v.size() > 1024)
    return fmt::format("expected 16 to 1024 bytes (got {} bytes)", v.size());
  return {};
}
constexpr SecretRule kPhoneKey{"phone_key", check_phone_key};

// [privacy] field_key_*: "<id> <64 hex digits>" lines, the first seals (store/field_cipher.h).
std::string check_field_keys(std::string_view v) {
  auto c = store::FieldCipher::parse(v);
  return c ? std::string() : c.error().message;
}
constexpr SecretRule kFieldKey{"field_key", check_field_keys};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string strip_trailing_newlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Splits "host:port" / "[v6]:port"; returns false when the shape is wrong.
bool split_host_port(std::string_view s, std::string_view& host, std::string_view& port) {
  if (s.empty()) return false;
  if (s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return false;
    host = s.substr(1, close - 1);
    std::string_view rest = s.substr(close + 1);
    if (rest.empty()) {
      port = {};
      return !host.empty();
    }
    if (rest.front() != ':') return false;
    port = rest.substr(1);
    return !host.empty();
  }
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos) {
    host = s;
    port = {};
  } else {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return false;  // bare IPv6 needs brackets
  }
  return !host.empty();
}

bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  unsigned v = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v <= 65535;
}

bool valid_host_chars(std::string_view host) {
  return std::all_of(host.begin(), host.end(),
                     [](char c) { return is_alnum(c) || c == '.' || c == '-' || c == ':' || c == '_'; });
}

// Walks the parsed document, filling Settings. The first problem found is kept and reported;
// later checks still run but cannot replace it.
class Loader {
 public:
  Loader(std::string file, fs::path folder, const EnvLookup& env)
      : file_(std::move(file)), folder_(std::move(folder)), env_(env) {}

  Result<Settings> load(const toml::table& root) {
    Settings s;
    s.source_file = file_;
    Table top{&root, "", 1};
    check_keys(top, {"server", "store", "inbox", "wecom", "callback", "time", "admin", "log", "outbox", "group_task", "roster", "groups", "content", "scheduler", "schedule", "survey", "privacy", "retention"});
    load_server(sub_table(top, "server"), s.server);
    load_store(sub_table(top, "store"), s.store);
    load_inbox(sub_table(top, "inbox"), s.inbox);
    load_wecom(sub_table(top, "wecom"), s);
    load_callback(sub_table(top, "callback"), s.callback);
    load_time(sub_table(top, "time"), s);
    load_admin(sub_table(top, "admin"), s);
    load_log(sub_table(top, "log"), s);
    load_outbox(sub_table(top, "outbox"), s.outbox);
    load_group_task(sub_table(top, "group_task"), s);
    load_roster(sub_table(top, "roster"), s);
    load_groups(sub_table(top, "groups"), s);
    load_content(sub_table(top, "content"), s);
    load_scheduler(top, s);
    load_survey(sub_table(top, "survey"), s);
    load_privacy(sub_table(top, "privacy"), s);
    load_retention(sub_table(top, "retention"), s);
    if (error_) return *error_;
    return s;
  }

 private:
  void fail(std::string code, std::uint32_t line, std::string_view key, std::string_view what) {
    if (error_) return;
    error_ = Error{"config." + code, fmt::format("{}:{}: {}: {}", file_, line, key, what)};
  }

  Table sub_table(const Table& parent, std::string_view k) {
    Table t{nullptr, parent.key(k), parent.line};
    const toml::node* n = parent.find(k);
    if (!n) return t;
    if (!n->is_table()) {
      fail("wrong_type", line_of(n->source()), t.name, fmt::format("expected a table, got {}", type_name(n->type())));
      return t;
    }
    t.node = n->as_table();
    t.line = line_of(n->source());
    return t;
  }

  void check_keys(const Table& t, std::initializer_list<std::string_view> known,
                  std::initializer_list<SecretRule> secrets = {}) {
    if (!t.node) return;
    // Inline secret names are accepted here so get_secret() can refuse them with a precise
    // message, but never suggested.
    std::vector<std::string> names(known.begin(), known.end());
    std::vector<std::string> inline_names;
    for (const auto& rule : secrets) {
      inline_names.emplace_back(rule.name);
      for (std::string_view suffix : {"_file"sv, "_env"sv, "_credential"sv})
        names.push_back(std::string(rule.name) + std::string(suffix));
    }
    for (auto&& [k, v] : *t.node) {
      if (std::find(names.begin(), names.end(), k.str()) != names.end()) continue;
      if (std::find(inline_names.begin(), inline_names.end(), k.str()) != inline_names.end()) continue;
      std::string best;
      std::size_t best_distance = 3;
      for (const auto& n : names) {
        std::size_t d = edit_distance(k.str(), n);
        if (d < best_distance) best_distance = d, best = n;
      }
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      fail("unknown_key", line_of(k.source()), t.key(k.str()),
           best.empty() ? fmt::format("unknown key; expected one of: {}", list)
                        : fmt::format("unknown key; did you mean {}?", best));
    }
  }

  const toml::node* typed(const Table& t, std::string_view k, toml::node_type want, std::string_view want_name) {
    const toml::node* n = t.find(k);
    if (!n) return nullptr;
    if (n->type() != want) {
      fail("wrong_type", line_of(n->source()), t.key(k),
           fmt::format("expected {}, got {}", want_name, type_name(n->type())));
      return nullptr;
    }
    return n;
  }

  void missing(const Table& t, std::string_view k, std::string_view expected) {
    fail("missing_key", t.line, t.key(k), fmt::format("missing; expected {}", expected));
  }

  std::optional<std::string> get_string(const Table& t, std::string_view k, bool required, std::string_view expected) {
    if (!t.find(k)) {
      if (required) missing(t, k, expected);
      return std::nullopt;
    }
    const toml::node* n = typed(t, k, toml::node_type::string, "a string");
    if (!n) return std::nullopt;
    return n->value<std::string>();
  }

  std::optional<std::int64_t> get_int(const Table& t, std::string_view k, std::int64_t lo, std::int64_t hi) {
    const toml::node* n = typed(t, k, toml::node_type::integer, "an integer");
    if (!n) return std::nullopt;
    std::int64_t v = *n->value<std::int64_t>();
    if (v < lo || v > hi) {
      fail("bad_value", line_of(n->source()), t.key(k), fmt::format("{} is out of range; expected {} to {}", v, lo, hi));
      return std::nullopt;
    }
    return v;
  }

  template <class T>
  void read_int(const Table& t, std::string_view k, std::int64_t lo, std::int64_t hi, T& out) {
    if (auto v = get_int(t, k, lo, hi)) out = static_cast<T>(*v);
  }

  void read_ms(const Table& t, std::string_view k, std::chrono::milliseconds& out) {
    if (auto v = get_int(t, k, 1, 3'600'000)) out = std::chrono::milliseconds(*v);
  }

  void bad_value(const Table& t, std::string_view k, std::string_view what) {
    const toml::node* n = t.find(k);
    fail("bad_value", n ? line_of(n->source()) : t.line, t.key(k), what);
  }

  fs::path resolve(const std::string& p) const {
    fs::path path(p);
    return (path.is_absolute() ? path : folder_ / path).lexically_normal();
  }

  // Reads a secret file. `check_mode` refuses files with any group/other permission bit.
  std::optional<std::string> read_secret_file(const fs::path& path, bool check_mode, std::uint32_t line,
                                              const std::string& key, std::size_t max_bytes = kMaxSecretBytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
      fail("secret_unreadable", line, key, fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
      return std::nullopt;
    }
    struct stat st {};
    std::string out;
    bool ok = false;
    if (::fstat(fd, &st) != 0) {
      fail("secret_unreadable", line, key, fmt::format("cannot stat {}: {}", path.string(), std::strerror(errno)));
    } else if (!S_ISREG(st.st_mode)) {
      fail("secret_unreadable", line, key, fmt::format("{} is not a regular file", path.string()));
    } else if (check_mode && (st.st_mode & 077) != 0) {
      fail("secret_insecure", line, key,
           fmt::format("{} has group/other permissions (mode {:04o}); expected owner-only, e.g. chmod 600",
                       path.string(), st.st_mode & 07777));
    } else {
      char buf[4096];
      ok = true;
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          fail("secret_unreadable", line, key, fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
          ok = false;
          break;
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > max_bytes) {
          fail("secret_unreadable", line, key, fmt::format("{} is larger than {} bytes", path.string(), max_bytes));
          ok = false;
          break;
        }
      }
    }
    ::close(fd);
    if (!ok) return std::nullopt;
    return strip_trailing_newlines(std::move(out));
  }

  // Resolves secret `rule.name` of table `t` from exactly one of <name>_file, <name>_env,
  // <name>_credential, and validates it. Error messages name keys, paths and variables, never values.
  std::optional<std::string> get_secret(const Table& t, const SecretRule& rule) {
    const std::string name(rule.name);
    const std::string alternatives = fmt::format("{0}_file, {0}_env or {0}_credential", name);
    if (const toml::node* inline_value = t.find(name)) {
      fail("inline_secret", line_of(inline_value->source()), t.key(name),
           fmt::format("inline secrets are refused; use {}", alternatives));
      return std::nullopt;
    }
    const toml::node* source = nullptr;
    std::string source_key;
    for (std::string_view suffix : {"_file"sv, "_env"sv, "_credential"sv}) {
      std::string k = name + std::string(suffix);
      const toml::node* n = t.find(k);
      if (!n) continue;
      if (source) {
        fail("secret_source", line_of(n->source()), t.key(k),
             fmt::format("{} is already set; set exactly one of {}", t.key(source_key), alternatives));
        return std::nullopt;
      }
      source = n;
      source_key = k;
    }
    if (!source) {
      missing(t, name, "one of " + alternatives);
      return std::nullopt;
    }
    const std::uint32_t line = line_of(source->source());
    const std::string key = t.key(source_key);
    if (!source->is_string()) {
      fail("wrong_type", line, key, fmt::format("expected a string, got {}", type_name(source->type())));
      return std::nullopt;
    }
    const std::string ref = *source->value<std::string>();
    if (ref.empty()) {
      fail("bad_value", line, key, "must not be empty");
      return std::nullopt;
    }

    std::optional<std::string> value;
    if (source_key.ends_with("_file")) {
      value = read_secret_file(resolve(ref), true, line, key, rule.max_bytes);
    } else if (source_key.ends_with("_env")) {
      value = env_(ref);
      if (!value) fail("secret_unreadable", line, key, fmt::format("environment variable {} is not set", ref));
    } else {
      if (ref == "." || ref == ".." || ref.find('/') != std::string::npos) {
        fail("bad_value", line, key, fmt::format("\"{}\" is not a credential name; expected a plain file name", ref));
        return std::nullopt;
      }
      auto dir = env_("CREDENTIALS_DIRECTORY");
      if (!dir || dir->empty()) {
        fail("secret_unreadable", line, key,
             "$CREDENTIALS_DIRECTORY is not set; credentials come from LoadCredential= in the systemd unit");
        return std::nullopt;
      }
      value = read_secret_file(fs::path(*dir) / ref, false, line, key, rule.max_bytes);
    }
    if (!value) return std::nullopt;
    if (std::string wrong = rule.check(*value); !wrong.empty()) {
      fail("bad_secret", line, t.key(name), fmt::format("{} (value read from {})", wrong, key));
      return std::nullopt;
    }
    return value;
  }

  void load_server(const Table& t, net::ServerSettings& out) {
    check_keys(t, {"listen", "max_connections", "header_limit_bytes", "body_limit_bytes", "read_timeout_ms",
                   "idle_timeout_ms", "write_timeout_ms", "io_threads"});
    if (auto listen = get_string(t, "listen", true, "\"host:port\", e.g. \"127.0.0.1:8080\"")) {
      std::string_view host, port;
      if (!split_host_port(*listen, host, port) || port.empty() || !valid_host_chars(host))
        bad_value(t, "listen",
                  fmt::format("\"{}\" is not host:port; expected e.g. \"127.0.0.1:8080\" or \"[::1]:8080\"", *listen));
      else if (!valid_port(port))
        bad_value(t, "listen", fmt::format("port \"{}\" is not a number from 0 to 65535", port));
      else
        out.listen = *listen;
    }
    read_int(t, "max_connections", 1, 1'000'000, out.max_connections);
    read_int(t, "header_limit_bytes", 1024, 1024 * 1024, out.header_limit);
    read_int(t, "body_limit_bytes", 1, 256 * 1024 * 1024, out.default_body_limit);
    read_ms(t, "read_timeout_ms", out.read_timeout);
    read_ms(t, "idle_timeout_ms", out.idle_timeout);
    read_ms(t, "write_timeout_ms", out.write_timeout);
    // Default: one io thread per core (hardware_concurrency() may answer 0 when it cannot tell).
    out.io_threads = std::max(1u, std::thread::hardware_concurrency());
    read_int(t, "io_threads", 1, 256, out.io_threads);
  }

  void load_store(const Table& t, store::Settings& out) {
    check_keys(t, {"path", "synchronous", "busy_timeout_ms"});
    if (auto path = get_string(t, "path", true, "the SQLite file, e.g. \"/var/lib/yuer/yuer.db\"")) {
      if (path->empty())
        bad_value(t, "path", "must not be empty; expected the SQLite file, e.g. \"/var/lib/yuer/yuer.db\"");
      else
        out.path = resolve(*path).string();
    }
    if (auto sync = get_string(t, "synchronous", false, "")) {
      if (*sync != "full" && *sync != "normal")
        bad_value(t, "synchronous", fmt::format("\"{}\" is not allowed; expected \"full\" or \"normal\"", *sync));
      else
        out.synchronous = *sync;
    }
    read_int(t, "busy_timeout_ms", 0, 600'000, out.busy_timeout_ms);
  }

  void load_inbox(const Table& t, inbox::Settings& out) {
    check_keys(t, {"max_batch"});
    read_int(t, "max_batch", 1, 100'000, out.max_batch);
  }

  void load_api_base(const Table& t, Settings& s) {
    auto base = get_string(t, "api_base", true, "\"https://qyapi.weixin.qq.com\"");
    if (!base) return;
    std::string_view v = *base;
    bool https = v.starts_with("https://");
    bool http = v.starts_with("http://");
    if (!https && !http) {
      bad_value(t, "api_base", fmt::format("\"{}\" is not an http(s) URL; expected \"https://qyapi.weixin.qq.com\"", v));
      return;
    }
    std::string_view rest = v.substr(https ? 8 : 7);
    std::string_view authority = rest.substr(0, rest.find('/'));
    std::string_view host, port;
    bool ok = rest.find_first_of("?#@ \t\r\n\\") == std::string_view::npos &&
              split_host_port(authority, host, port) && (port.empty() || (valid_port(port) && port != "0")) &&
              valid_host_chars(host);
    if (!ok) {
      bad_value(t, "api_base",
                fmt::format("\"{}\" is not a base URL; expected scheme://host[:port][/path], e.g. "
                            "\"https://qyapi.weixin.qq.com\"",
                            v));
      return;
    }
    if (http && host != "127.0.0.1" && host != "::1" && host != "localhost") {
      bad_value(t, "api_base",
                fmt::format("plain http is allowed only for a loopback host (127.0.0.1, [::1], localhost), "
                            "got host \"{}\"; use https://",
                            host));
      return;
    }
    while (v.ends_with('/')) v.remove_suffix(1);
    s.api_base = std::string(v);
  }

  void load_wecom(const Table& t, Settings& s) {
    check_keys(t, {"api_base", "corp_id", "app", "bot", "robots", "kf", "connect_timeout_ms", "request_timeout_ms",
                   "ca_file"});
    load_api_base(t, s);
    read_int(t, "connect_timeout_ms", 100, 600'000, s.outbound.connect_timeout_ms);
    read_int(t, "request_timeout_ms", 100, 600'000, s.outbound.request_timeout_ms);
    if (auto ca = get_string(t, "ca_file", false, "")) {
      if (ca->empty()) bad_value(t, "ca_file", "must not be empty; drop the key to use the system CA store only");
      else s.outbound.extra_ca_file = resolve(*ca).string();
    }
    Table robots = sub_table(t, "robots");
    if (robots.node) {
      check_keys(robots, {"per_key_per_window", "window_ms", "route_per_minute"}, {kRobotKeys});
      if (auto v = get_secret(robots, kRobotKeys)) parse_robot_keys(*v, &s.outbound.robot_keys, nullptr);
      read_int(robots, "per_key_per_window", 1, 20, s.outbound.robot_per_key_per_window);
      read_int(robots, "window_ms", 1000, 3'600'000, s.outbound.robot_window_ms);
      read_int(robots, "route_per_minute", 1, 20'000, s.outbound.robot_route_per_minute);
    }
    if (auto corp = get_string(t, "corp_id", true, "the CorpID from the WeCom admin console, e.g. \"ww0123456789abcdef\"")) {
      if (corp->empty() || corp->size() > 64 || !all_of_class(*corp, is_id_char))
        bad_value(t, "corp_id",
                  fmt::format("\"{}\" is not a CorpID; expected 1 to 64 characters of A-Z, a-z, 0-9, _ and -", *corp));
      else
        s.corp_id = *corp;
    }

    Table app = sub_table(t, "app");
    if (app.node) {
      check_keys(app, {"agent_id"}, {kCallbackToken, kAesKey, kAppSecret});
      if (app.find("agent_id")) {
        read_int(app, "agent_id", 1, 9'999'999'999, s.outbound.app_agent_id);
        if (auto v = get_secret(app, kAppSecret)) s.outbound.app_secret = std::move(*v);
      } else if (app.find("secret_file") || app.find("secret_env") || app.find("secret_credential")) {
        missing(app, "agent_id", "the app's AgentId (an integer) when its secret is set");
      }
      ReceiverSettings r;
      r.name = "app";
      r.path = "/wecom/callback/app";
      r.json = false;
      r.receive_id = s.corp_id;
      if (auto v = get_secret(app, kCallbackToken)) r.token = std::move(*v);
      if (auto v = get_secret(app, kAesKey)) r.aes_key = std::move(*v);
      s.callback.receivers.push_back(std::move(r));
    }
    load_kf(t, sub_table(t, "kf"), s);

    const toml::node* bots = t.find("bot");
    if (!bots) return;
    const toml::array* list = bots->as_array();
    if (!list) {
      fail("wrong_type", line_of(bots->source()), t.key("bot"),
           fmt::format("expected an array of tables ([[wecom.bot]] sections), got {}", type_name(bots->type())));
      return;
    }
    std::vector<std::pair<std::string, std::string>> seen;  // bot name → its dotted key
    for (std::size_t i = 0; i < list->size(); ++i) {
      const toml::node& item = *list->get(i);
      std::string item_name = fmt::format("{}[{}]", t.key("bot"), i);
      if (!item.is_table()) {
        fail("wrong_type", line_of(item.source()), item_name,
             fmt::format("expected a table ([[wecom.bot]] section), got {}", type_name(item.type())));
        continue;
      }
      Table bot{item.as_table(), item_name, line_of(item.source())};
      check_keys(bot, {"name"}, {kCallbackToken, kAesKey});
      ReceiverSettings r;
      r.json = true;
      r.receive_id = "";
      if (auto name = get_string(bot, "name", true, "a robot name of 1 to 32 characters of a-z, 0-9, _ and -")) {
        if (name->empty() || name->size() > 32 || !all_of_class(*name, is_bot_name_char)) {
          bad_value(bot, "name",
                    fmt::format("\"{}\" is not a robot name; expected 1 to 32 characters of a-z, 0-9, _ and -", *name));
        } else {
          auto dup = std::find_if(seen.begin(), seen.end(), [&](const auto& p) { return p.first == *name; });
          if (dup != seen.end())
            fail("duplicate_name", line_of(bot.find("name")->source()), bot.key("name"),
                 fmt::format("\"{}\" is already the name of {}; robot names must be unique", *name, dup->second));
          seen.emplace_back(*name, item_name);
          r.name = "bot/" + *name;
          r.path = "/wecom/callback/bot/" + *name;
        }
      }
      if (auto v = get_secret(bot, kCallbackToken)) r.token = std::move(*v);
      if (auto v = get_secret(bot, kAesKey)) r.aes_key = std::move(*v);
      s.callback.receivers.push_back(std::move(r));
    }
  }

  // [wecom.kf]: 微信客服 through the self-built app's access token and callback URL (reference §9.1).
  void load_kf(const Table& wecom, const Table& t, Settings& s) {
    if (!t.node) return;
    check_keys(t, {"open_kfids", "window_margin_s"});
    s.outbound.kf = true;
    if (!s.outbound.app_agent_id || s.outbound.app_secret.empty())
      fail("missing_key", t.line, wecom.key("app"),
           "[wecom.kf] needs [wecom.app] with agent_id and its secret (kf APIs use the app's access token, and its "
           "callback URL receives the kf doorbell)");
    if (const toml::node* n = t.find("open_kfids")) {
      const toml::array* list = n->as_array();
      if (!list) {
        fail("wrong_type", line_of(n->source()), t.key("open_kfids"),
             fmt::format("expected an array of strings, got {}", type_name(n->type())));
      } else {
        for (const auto& item : *list) {
          const auto* v = item.as_string();
          if (!v || v->get().empty() || v->get().size() > 64 || !all_of_class(v->get(), is_id_char)) {
            fail("bad_value", line_of(item.source()), t.key("open_kfids"),
                 "each entry must be an open_kfid: 1 to 64 characters of A-Z, a-z, 0-9, _ and -");
            continue;
          }
          s.outbound.kf_open_kfids.push_back(v->get());
        }
      }
    }
    read_int(t, "window_margin_s", 0, 24 * 3600, s.outbound.kf_window_margin_s);
  }

  void load_callback(const Table& t, CallbackSettings& out) {
    check_keys(t, {"replay_window_s", "replay_cache_size", "max_body_bytes"});
    read_int(t, "replay_window_s", 1, 86'400, out.replay_window_s);
    read_int(t, "replay_cache_size", 1, 10'000'000, out.replay_cache_size);
    read_int(t, "max_body_bytes", 1024, 16 * 1024 * 1024, out.max_body_bytes);
  }

  void load_time(const Table& t, Settings& s) {
    check_keys(t, {"zone", "test_clock", "clock_rate"});
    if (const toml::node* n = typed(t, "test_clock", toml::node_type::boolean, "a boolean (true or false)"))
      s.test_clock = *n->value<bool>();
    if (const toml::node* n = t.find("clock_rate")) {
      auto r = n->value<double>();
      if (!r || !(*r >= 0) || *r > 1e7) bad_value(t, "clock_rate", "expected a number from 0 to 10000000 (1 = real time)");
      else s.clock_rate = *r;
    }
    auto zone = get_string(t, "zone", true, "an IANA time zone name, e.g. \"Asia/Shanghai\"");
    if (!zone) return;
    std::error_code ec;
    bool ok = !zone->empty() && zone->front() != '/' && zone->find("..") == std::string::npos &&
              fs::is_regular_file(fs::path(kZoneInfoDir) / *zone, ec);
    if (!ok)
      bad_value(t, "zone",
                fmt::format("\"{}\" is not a time zone in {}; expected a name like \"Asia/Shanghai\"", *zone,
                            kZoneInfoDir));
    else
      s.time_zone = *zone;
  }

  void load_admin(const Table& t, Settings& s) {
    check_keys(t, {"allow_remote"}, {kAdminToken});
    if (auto v = get_secret(t, kAdminToken)) s.admin_token = std::move(*v);
    if (const toml::node* n = typed(t, "allow_remote", toml::node_type::boolean, "a boolean (true or false)"))
      s.admin_allow_remote = *n->value<bool>();
  }

  void load_roster(const Table& t, Settings& s) {
    if (!t.node) return;
    check_keys(t, {}, {kPhoneKey});
    if (auto v = get_secret(t, kPhoneKey)) s.roster_phone_key = std::move(*v);
  }

  // [privacy] (issue 9, docs/privacy.md).
  void load_privacy(const Table& t, Settings& s) {
    if (t.node) {
      check_keys(t, {"require_field_key"}, {kFieldKey});
      if (const toml::node* n = typed(t, "require_field_key", toml::node_type::boolean, "a boolean (true or false)"))
        s.privacy_require_field_key = *n->value<bool>();
      const bool given = t.find("field_key") || t.find("field_key_file") || t.find("field_key_env") ||
                         t.find("field_key_credential");
      if (given || s.privacy_require_field_key)
        if (auto v = get_secret(t, kFieldKey)) {
          auto c = store::FieldCipher::parse(*v);
          if (c) s.store.field_cipher = *c;
        }
    }
  }

  // [retention] (issue 9, docs/privacy.md "Retention").
  void load_retention(const Table& t, Settings& s) {
    if (!t.node) return;
    check_keys(t, {"identifying_after_days", "inbox_payload_after_days", "purge_every_s"});
    auto& r = s.retention;
    read_int(t, "identifying_after_days", 0, 3650, r.identifying_after_days);
    // Consumers read the inbox forward from their cursors; a week leaves room for an outage.
    if (t.find("inbox_payload_after_days")) {
      read_int(t, "inbox_payload_after_days", 0, 3650, r.inbox_payload_after_days);
      if (r.inbox_payload_after_days > 0 && r.inbox_payload_after_days < 7)
        bad_value(t, "inbox_payload_after_days", "expected 0 (keep) or 7 to 3650 days (consumers may lag behind)");
    }
    read_seconds(t, "purge_every_s", 60, 7 * 24 * 3600, r.purge_every);
  }

  void load_content(const Table& t, Settings& s) {
    if (!t.node) return;
    check_keys(t, {"lessons_dir"});
    if (!t.find("lessons_dir")) return;
    if (auto dir = get_string(t, "lessons_dir", true, "the lessons folder, e.g. \"../templates/lessons\"")) {
      if (dir->empty()) {
        bad_value(t, "lessons_dir", "must not be empty");
        return;
      }
      s.lessons_dir = resolve(*dir).string();
      s.lessons_dir_configured = true;
    }
  }

  // [survey] (issue 7).
  void load_survey(const Table& t, Settings& s) {
    if (!t.node) return;
    check_keys(t, {"dir", "open_kfid", "poll_ms", "reminders", "reports", "notice_catch_up_s", "notice_poll_ms"});
    if (t.find("dir"))
      if (auto dir = get_string(t, "dir", true, "the survey definitions folder, e.g. \"../templates/surveys\"")) {
        if (dir->empty()) {
          bad_value(t, "dir", "must not be empty");
        } else {
          s.surveys_dir = resolve(*dir).string();
          s.surveys_dir_configured = true;
        }
      }
    if (auto v = get_string(t, "open_kfid", false, "")) s.survey_open_kfid = *v;
    if (auto v = get_int(t, "poll_ms", 10, 60000)) s.survey_poll_ms = *v;
    load_survey_reports(t, s);
  }

  // [survey.reminders] and [survey.reports] (issue 7): the time keys have the [[schedule]] shape.
  std::optional<scheduler::Schedule> survey_time(const Table& t, const char* name) {
    if (!t.find("time")) {
      missing(t, "time", "a time like { kind = \"daily\", at = \"18:00\" } (as in [[schedule]])");
      return std::nullopt;
    }
    nlohmann::json j = {{"name", name}, {"content", {{"kind", "template"}, {"ref", name}}}};
    for (std::string_view k : {"time"sv, "start_date"sv, "end_date"sv, "quiet_hours"sv}) {
      const toml::node* n = t.find(k);
      if (!n) continue;
      std::ostringstream out;
      if (const auto* tbl = n->as_table(); tbl && k == "time") out << toml::json_formatter{*tbl};
      else if (const auto* str = n->as_string(); str && k != "time") out << nlohmann::json(str->get()).dump();
      else {
        fail("wrong_type", line_of(n->source()), t.key(k),
             fmt::format("expected {}, got {}", k == "time" ? "a table" : "a string", type_name(n->type())));
        return std::nullopt;
      }
      j[std::string(k)] = nlohmann::json::parse(out.str(), nullptr, false);
    }
    if (!j.contains("start_date")) j["start_date"] = "2000-01-01";
    auto parsed = scheduler::schedule_from_json(j);
    if (!parsed) {
      fail("bad_value", line_of(t.find("time")->source()), t.key("time"), parsed.error().message);
      return std::nullopt;
    }
    return std::move(*parsed);
  }

  void load_survey_reports(const Table& survey, Settings& s) {
    auto& r = s.survey_reports;
    if (auto v = get_int(survey, "notice_catch_up_s", 0, 7 * 24 * 3600)) r.catch_up_s = *v;
    if (auto v = get_int(survey, "notice_poll_ms", 10, 600000)) r.poll_ms = *v;
    const Table rem = sub_table(survey, "reminders");
    if (rem.node) {
      check_keys(rem, {"time", "start_date", "end_date", "quiet_hours", "kf_nudge", "nudge_margin_s", "nudge_expire_s"});
      r.reminders = survey_time(rem, "survey-reminders");
      if (const toml::node* n = typed(rem, "kf_nudge", toml::node_type::boolean, "a boolean (true or false)"))
        r.kf_nudge = *n->value<bool>();
      if (auto v = get_int(rem, "nudge_margin_s", 0, 47 * 3600)) r.nudge_margin_s = *v;
      if (auto v = get_int(rem, "nudge_expire_s", 60, 48 * 3600)) r.nudge_expire_s = *v;
    }
    const Table rep = sub_table(survey, "reports");
    if (rep.node) {
      check_keys(rep, {"time", "start_date", "end_date", "quiet_hours", "township_percent", "county_percent",
                       "bot_commands"});
      if (rep.find("time")) r.reports = survey_time(rep, "survey-reports");
      if (auto v = get_int(rep, "township_percent", 1, 100)) r.township_percent = static_cast<int>(*v);
      if (auto v = get_int(rep, "county_percent", 1, 100)) r.county_percent = static_cast<int>(*v);
      if (const toml::node* n = typed(rep, "bot_commands", toml::node_type::boolean, "a boolean (true or false)"))
        r.bot_commands = *n->value<bool>();
    }
  }

  void load_outbox(const Table& t, outbox::Settings& out) {
    check_keys(t, {"max_in_flight", "backoff_base_ms", "backoff_max_ms", "max_attempts"});
    read_int(t, "max_in_flight", 1, 10'000, out.max_in_flight);
    read_ms(t, "backoff_base_ms", out.backoff_base);
    read_ms(t, "backoff_max_ms", out.backoff_max);
    read_int(t, "max_attempts", 1, 1000, out.max_attempts);
  }

  void load_group_task(const Table& t, Settings& s) {
    check_keys(t, {"enabled", "batch_delay_s", "first_check_s", "check_every_s", "remind_after_s", "remind_every_s",
                   "give_up_after_s"});
    if (const toml::node* n = typed(t, "enabled", toml::node_type::boolean, "a boolean (true or false)"))
      s.group_task_enabled = *n->value<bool>();
    auto& g = s.group_task;
    const std::int64_t week = 7 * 24 * 3600;
    read_seconds(t, "batch_delay_s", 0, 24 * 3600, g.batch_delay);
    read_seconds(t, "first_check_s", 1, 24 * 3600, g.first_check);
    read_seconds(t, "check_every_s", 1, 24 * 3600, g.check_every);
    read_seconds(t, "remind_after_s", 1, week, g.remind_after);
    // WeCom allows 3 reminders per task in 24 h (reference §8.6): at least 8 h apart.
    read_seconds(t, "remind_every_s", 8 * 3600, week, g.remind_every);
    read_seconds(t, "give_up_after_s", 1, 31 * 24 * 3600, g.give_up_after);
  }

  void load_groups(const Table& t, Settings& s) {
    check_keys(t, {"enabled", "soft_cap", "hard_cap", "join_headroom", "create_mode", "room_suffix", "ask_below",
                   "ask_every_s", "refresh_delay_ms", "reconcile_every_s"});
    if (const toml::node* n = typed(t, "enabled", toml::node_type::boolean, "a boolean (true or false)"))
      s.groups_enabled = *n->value<bool>();
    auto& g = s.groups;
    if (auto v = get_int(t, "soft_cap", 2, 2000)) g.caps.soft = static_cast<int>(*v);
    if (auto v = get_int(t, "hard_cap", 2, 2000)) g.caps.hard = static_cast<int>(*v);
    if (auto v = get_int(t, "join_headroom", 0, 100)) g.caps.headroom = static_cast<int>(*v);
    if (g.caps.soft > g.caps.hard) bad_value(t, "soft_cap", "must not be above hard_cap");
    if (g.caps.hard - g.caps.headroom < 1) bad_value(t, "join_headroom", "must leave room below hard_cap");
    if (auto mode = get_string(t, "create_mode", false, "")) {
      if (*mode != "ask" && *mode != "auto") bad_value(t, "create_mode", "expected \"ask\" or \"auto\"");
      else g.create_mode = *mode;
    }
    if (auto suffix = get_string(t, "room_suffix", false, "")) {
      if (suffix->empty() || suffix->size() > 30) bad_value(t, "room_suffix", "expected 1 to 30 bytes of text");
      else g.room_suffix = *suffix;
    }
    if (auto v = get_int(t, "ask_below", 0, 2000)) g.ask_below = static_cast<int>(*v);
    read_seconds(t, "ask_every_s", 60, 7 * 24 * 3600, g.ask_every);
    if (auto v = get_int(t, "refresh_delay_ms", 0, 600000)) g.refresh_delay = std::chrono::milliseconds(*v);
    read_seconds(t, "reconcile_every_s", 10, 24 * 3600, g.reconcile_every);
  }

  // --- [scheduler] and [[schedule]] (issue 6) ---
  void load_scheduler(const Table& top, Settings& s) {
    const Table t = sub_table(top, "scheduler");
    check_keys(t, {"catch_up_s", "poll_ms", "group_task_per_day", "starve_after", "kf_account"});
    auto& sc = s.scheduler;
    read_seconds(t, "catch_up_s", 0, 366LL * 24 * 3600, sc.catch_up);
    if (auto v = get_int(t, "poll_ms", 10, 600000)) sc.poll = std::chrono::milliseconds(*v);
    if (auto v = get_int(t, "group_task_per_day", 1, 10)) sc.plan.group_task_per_day = static_cast<int>(*v);
    if (auto v = get_int(t, "starve_after", 0, 1000)) sc.plan.starve_after = static_cast<int>(*v);
    if (auto v = get_string(t, "kf_account", false, "")) sc.plan.kf_account = *v;
    if (s.test_clock && s.api_base.rfind("http://127.0.0.1", 0) != 0 && s.api_base.rfind("http://localhost", 0) != 0 &&
        s.api_base.rfind("http://[::1]", 0) != 0)
      fail("bad_value", 1, "time.test_clock", "a test clock is allowed only with a loopback wecom.api_base (the sandbox)");
    const toml::node* n = top.find("schedule");
    if (!n) return;
    const toml::array* list = n->as_array();
    if (!list) {
      fail("wrong_type", line_of(n->source()), "schedule", "expected [[schedule]] tables");
      return;
    }
    std::set<std::string> ids;
    std::size_t i = 0;
    for (const auto& item : *list) {
      const std::string key = fmt::format("schedule[{}]", i++);
      const toml::table* tbl = item.as_table();
      if (!tbl) {
        fail("wrong_type", line_of(item.source()), key, "expected a table");
        continue;
      }
      std::ostringstream out;
      out << toml::json_formatter{*tbl};
      auto j = nlohmann::json::parse(out.str(), nullptr, false);
      auto parsed = scheduler::schedule_from_json(j);
      if (!parsed) {
        fail("bad_value", line_of(tbl->source()), key, parsed.error().message);
        continue;
      }
      if (parsed->id.empty()) {
        fail("missing_key", line_of(tbl->source()), key + ".id", "a config schedule needs a stable id (letters, digits, - and _)");
        continue;
      }
      if (!ids.insert(parsed->id).second) {
        fail("bad_value", line_of(tbl->source()), key + ".id", "\"" + parsed->id + "\" is used twice");
        continue;
      }
      if (parsed->route == "kf" && s.scheduler.plan.kf_account.empty())
        fail("bad_value", line_of(tbl->source()), key + ".route", "route kf needs [scheduler] kf_account (an open_kfid)");
      parsed->source = "config";
      sc.config_schedules.push_back(std::move(*parsed));
    }
  }

  void read_seconds(const Table& t, std::string_view k, std::int64_t lo, std::int64_t hi, std::chrono::milliseconds& out) {
    if (auto v = get_int(t, k, lo, hi)) out = std::chrono::seconds(*v);
  }

  void load_log(const Table& t, Settings& s) {
    check_keys(t, {"level"});
    if (auto level = get_string(t, "level", false, "")) {
      if (!log::parse_level(*level, s.log_level))
        bad_value(t, "level",
                  fmt::format("\"{}\" is not a log level; expected trace, debug, info, warn, error, critical or off",
                              *level));
    }
  }

  std::string file_;
  fs::path folder_;
  const EnvLookup& env_;
  std::optional<Error> error_;
};

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Result<Settings> load_config(const std::string& path, const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"config.read", fmt::format("{}: cannot open: {}", path, std::strerror(errno))};
  std::string text;
  {
    std::ostringstream buf;
    buf << in.rdbuf();
    text = std::move(buf).str();
  }
  if (in.bad()) return Error{"config.read", fmt::format("{}: cannot read", path)};
  if (text.size() > kMaxConfigBytes)
    return Error{"config.read", fmt::format("{}: larger than {} bytes; is this the config file?", path, kMaxConfigBytes)};

  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Error{"config.syntax", fmt::format("{}:{}:{}: TOML syntax error: {}", path, where.line ? where.line : 1,
                                              where.column ? where.column : 1, e.description())};
  }

  std::error_code ec;
  fs::path folder = fs::absolute(fs::path(path), ec).parent_path();
  if (ec) folder = fs::path(path).parent_path();
  Loader loader(path, folder, env);
  return loader.load(root);
}

}  // namespace yuer::yuerd
