#include "daemon/yuerd/config.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using yuer::yuerd::load_config;
using yuer::yuerd::Settings;

namespace {

// A fresh directory under $TMPDIR, removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "yuer-config-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const fs::path& p, const std::string& content, mode_t mode = 0600) {
  fs::create_directories(p.parent_path());
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + p.string());
  }
  if (::chmod(p.c_str(), mode) != 0) throw std::runtime_error("chmod failed on " + p.string());
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Secret values the cases use; none of them may ever show up in an error message.
const std::string kAdminToken = "admin-token-0123456789abcdef";
const std::string kAppToken = "AppToken123";
const std::string kAppAesKey = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
const std::string kBotToken = "BotToken456";
const std::string kBotAesKey = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
const std::string kEnvAdminToken = "env-admin-token-fedcba9876543210";
const std::string kCredAdminToken = "cred-admin-token-00112233445566";
const std::string kInlineSecret = "InlineSecretValue0123456789";
const std::string kShortAdmin = "short-admin";
const std::string kAesKey42 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP";
const std::string kToken33 = "abcdefghijklmnopqrstuvwxyz0123456";
const std::string kDashToken = "Bad-Token";

const std::vector<std::string>& all_secrets() {
  static const std::vector<std::string> v = {kAdminToken, kAppToken, kAppAesKey, kBotToken,  kBotAesKey, kEnvAdminToken,
                                             kCredAdminToken, kInlineSecret, kShortAdmin, kAesKey42, kToken33, kDashToken};
  return v;
}

// The secret files every case can point at (relative to the config folder).
void write_secrets(const fs::path& dir) {
  write_file(dir / "admin_token", kAdminToken + "\n");
  write_file(dir / "admin_token_0644", kAdminToken + "\n", 0644);
  write_file(dir / "admin_token_0640", kAdminToken + "\n", 0640);
  write_file(dir / "short_admin", kShortAdmin + "\n");
  write_file(dir / "app_token", kAppToken + "\r\n");
  write_file(dir / "app_aes_key", kAppAesKey + "\n");
  write_file(dir / "bot_token", kBotToken);
  write_file(dir / "bot_aes_key", kBotAesKey + "\n");
  write_file(dir / "aes_key_42", kAesKey42 + "\n");
  write_file(dir / "token_33", kToken33 + "\n");
  write_file(dir / "token_dash", kDashToken + "\n");
  write_file(dir / "empty", "");
  fs::create_directories(dir / "secret_dir");
  // systemd makes credentials readable by the service user only; our loader does not check the mode.
  write_file(dir / "creds" / "admin_token", kCredAdminToken + "\n", 0644);
  write_file(dir / "creds" / "app_token", kAppToken + "\n", 0400);
  write_file(dir / "creds" / "app_aes_key", kAppAesKey + "\n", 0400);
}

using Env = std::map<std::string, std::string>;

std::string substitute(std::string s, const fs::path& dir) {
  const std::string mark = "@DIR@";
  for (auto at = s.find(mark); at != std::string::npos; at = s.find(mark, at)) {
    s.replace(at, mark.size(), dir.string());
    at += dir.string().size();
  }
  return s;
}

yuer::yuerd::EnvLookup env_of(Env env, const fs::path& dir) {
  for (auto& [k, v] : env) v = substitute(v, dir);
  return [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

// The smallest valid config. Cases edit it by line number, so the numbers below are stable:
// replacing a line with "" keeps every other line where it was.
const char* const kMinimal =
    "[server]\n"                                  // 1
    "listen = \"127.0.0.1:0\"\n"                  // 2
    "\n"                                          // 3
    "[store]\n"                                   // 4
    "path = \"yuer.db\"\n"                        // 5
    "\n"                                          // 6
    "[wecom]\n"                                   // 7
    "api_base = \"https://qyapi.weixin.qq.com\"\n"  // 8
    "corp_id = \"ww0test\"\n"                     // 9
    "\n"                                          // 10
    "[time]\n"                                    // 11
    "zone = \"Asia/Shanghai\"\n"                  // 12
    "\n"                                          // 13
    "[admin]\n"                                   // 14
    "token_file = \"admin_token\"\n";             // 15
// Text appended with appended() starts on line 16.

std::string edit(std::vector<std::pair<int, std::string>> replacements) {
  std::vector<std::string> lines;
  std::istringstream in(kMinimal);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  for (auto& [n, text] : replacements) lines.at(static_cast<std::size_t>(n - 1)) = text;
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}
std::string with_line(int n, std::string text) { return edit({{n, std::move(text)}}); }
std::string appended(const std::string& text) { return std::string(kMinimal) + text; }

const std::string kApp = "[wecom.app]\ntoken_file = \"app_token\"\naes_key_file = \"app_aes_key\"\n";  // 16-18
const std::string kBot = "[[wecom.bot]]\nname = \"county\"\ntoken_file = \"bot_token\"\naes_key_file = \"bot_aes_key\"\n";

struct Case {
  std::string label;
  std::string toml;
  Env env;
  std::string code;       // expected Error::code
  std::string substring;  // expected in Error::message
};

std::vector<Case> error_cases() {
  const std::string app_token_line = "token_file = \"app_token\"";
  return {
      // Syntax and document shape.
      {"syntax error reports line and column", with_line(2, "listen = \"127.0.0.1:0"), {}, "config.syntax",
       "yuerd.toml:2:"},
      {"unknown top-level table", appended("[servr]\nx = 1\n"), {}, "config.unknown_key",
       "yuerd.toml:16: servr: unknown key; did you mean server?"},
      {"server is not a table", edit({{1, "server = 5"}, {2, ""}}), {}, "config.wrong_type",
       "yuerd.toml:1: server: expected a table, got an integer"},

      // [server]
      {"listen missing", with_line(2, ""), {}, "config.missing_key", "yuerd.toml:1: server.listen: missing"},
      {"server table missing", edit({{1, ""}, {2, ""}}), {}, "config.missing_key", "yuerd.toml:1: server.listen"},
      {"listen without port", with_line(2, "listen = \"127.0.0.1\""), {}, "config.bad_value",
       "yuerd.toml:2: server.listen: \"127.0.0.1\" is not host:port"},
      {"listen port out of range", with_line(2, "listen = \"127.0.0.1:70000\""), {}, "config.bad_value",
       "yuerd.toml:2: server.listen: port \"70000\" is not a number from 0 to 65535"},
      {"listen bare IPv6", with_line(2, "listen = \"::1:8080\""), {}, "config.bad_value", "yuerd.toml:2: server.listen"},
      {"listen wrong type", with_line(2, "listen = 8080"), {}, "config.wrong_type",
       "yuerd.toml:2: server.listen: expected a string, got an integer"},
      {"server key typo", with_line(2, "listen = \"127.0.0.1:0\"\nmax_conections = 10"), {}, "config.unknown_key",
       "yuerd.toml:3: server.max_conections: unknown key; did you mean max_connections?"},
      {"unknown key far from any known", with_line(3, "colour = \"blue\""), {}, "config.unknown_key",
       "yuerd.toml:3: server.colour: unknown key; expected one of: listen, max_connections"},
      {"max_connections zero", with_line(3, "max_connections = 0"), {}, "config.bad_value",
       "yuerd.toml:3: server.max_connections: 0 is out of range"},
      {"timeout as string", with_line(3, "read_timeout_ms = \"5s\""), {}, "config.wrong_type",
       "yuerd.toml:3: server.read_timeout_ms: expected an integer, got a string"},
      {"header limit as float", with_line(3, "header_limit_bytes = 1.5"), {}, "config.wrong_type",
       "yuerd.toml:3: server.header_limit_bytes: expected an integer, got a floating-point number"},
      {"body limit negative", with_line(3, "body_limit_bytes = -1"), {}, "config.bad_value",
       "yuerd.toml:3: server.body_limit_bytes"},
      {"idle timeout too long", with_line(3, "idle_timeout_ms = 3600001"), {}, "config.bad_value",
       "yuerd.toml:3: server.idle_timeout_ms"},
      {"write timeout zero", with_line(3, "write_timeout_ms = 0"), {}, "config.bad_value",
       "yuerd.toml:3: server.write_timeout_ms"},
      {"io_threads zero", with_line(3, "io_threads = 0"), {}, "config.bad_value",
       "yuerd.toml:3: server.io_threads: 0 is out of range; expected 1 to 256"},
      {"io_threads too many", with_line(3, "io_threads = 257"), {}, "config.bad_value",
       "yuerd.toml:3: server.io_threads: 257 is out of range"},
      {"io_threads as string", with_line(3, "io_threads = \"auto\""), {}, "config.wrong_type",
       "yuerd.toml:3: server.io_threads: expected an integer, got a string"},

      // [store]
      {"store path missing", with_line(5, ""), {}, "config.missing_key", "yuerd.toml:4: store.path: missing"},
      {"store path empty", with_line(5, "path = \"\""), {}, "config.bad_value", "yuerd.toml:5: store.path"},
      {"synchronous off", with_line(6, "synchronous = \"off\""), {}, "config.bad_value",
       "yuerd.toml:6: store.synchronous: \"off\" is not allowed; expected \"full\" or \"normal\""},
      {"busy timeout negative", with_line(6, "busy_timeout_ms = -1"), {}, "config.bad_value",
       "yuerd.toml:6: store.busy_timeout_ms"},

      // [inbox]
      {"max_batch zero", appended("[inbox]\nmax_batch = 0\n"), {}, "config.bad_value", "yuerd.toml:17: inbox.max_batch"},
      {"inbox typo", appended("[inbox]\nmax_batches = 10\n"), {}, "config.unknown_key",
       "yuerd.toml:17: inbox.max_batches: unknown key; did you mean max_batch?"},

      // [wecom]
      {"api_base missing", with_line(8, ""), {}, "config.missing_key", "yuerd.toml:7: wecom.api_base: missing"},
      {"api_base plain http to a remote host", with_line(8, "api_base = \"http://qyapi.weixin.qq.com\""), {},
       "config.bad_value", "yuerd.toml:8: wecom.api_base: plain http is allowed only for a loopback host"},
      {"api_base http to a private address", with_line(8, "api_base = \"http://10.0.0.1:9080\""), {}, "config.bad_value",
       "yuerd.toml:8: wecom.api_base: plain http"},
      {"api_base other scheme", with_line(8, "api_base = \"ftp://example.com\""), {}, "config.bad_value",
       "yuerd.toml:8: wecom.api_base"},
      {"api_base without host", with_line(8, "api_base = \"https://\""), {}, "config.bad_value",
       "yuerd.toml:8: wecom.api_base"},
      {"api_base with userinfo", with_line(8, "api_base = \"https://u@qyapi.weixin.qq.com\""), {}, "config.bad_value",
       "yuerd.toml:8: wecom.api_base"},
      {"api_base bad port", with_line(8, "api_base = \"https://qyapi.weixin.qq.com:x\""), {}, "config.bad_value",
       "yuerd.toml:8: wecom.api_base"},
      {"corp_id missing", with_line(9, ""), {}, "config.missing_key", "yuerd.toml:7: wecom.corp_id: missing"},
      {"corp_id empty", with_line(9, "corp_id = \"\""), {}, "config.bad_value", "yuerd.toml:9: wecom.corp_id"},
      {"corp_id with a space", with_line(9, "corp_id = \"ww 1\""), {}, "config.bad_value",
       "yuerd.toml:9: wecom.corp_id: \"ww 1\" is not a CorpID"},
      {"wecom typo", with_line(10, "corpid = \"ww0test\""), {}, "config.unknown_key",
       "yuerd.toml:10: wecom.corpid: unknown key; did you mean corp_id?"},
      {"wecom table missing", edit({{7, ""}, {8, ""}, {9, ""}}), {}, "config.missing_key",
       "yuerd.toml:1: wecom.api_base"},

      // [wecom.app]
      {"app inline token", appended(kApp + "token = \"" + kInlineSecret + "\"\n"), {}, "config.inline_secret",
       "yuerd.toml:19: wecom.app.token: inline secrets are refused; use token_file, token_env or token_credential"},
      {"app inline token instead of file", appended("[wecom.app]\ntoken = \"" + kInlineSecret + "\"\naes_key_file = \"app_aes_key\"\n"), {},
       "config.inline_secret", "yuerd.toml:17: wecom.app.token"},
      {"app aes_key missing", appended("[wecom.app]\ntoken_file = \"app_token\"\n"), {}, "config.missing_key",
       "yuerd.toml:16: wecom.app.aes_key: missing; expected one of aes_key_file, aes_key_env or aes_key_credential"},
      {"app token from two sources", appended(kApp + "token_env = \"YUER_APP_TOKEN\"\n"), {{"YUER_APP_TOKEN", kAppToken}},
       "config.secret_source", "yuerd.toml:19: wecom.app.token_env: wecom.app.token_file is already set"},
      {"app aes_key 42 chars", appended("[wecom.app]\ntoken_file = \"app_token\"\naes_key_file = \"aes_key_42\"\n"), {},
       "config.bad_secret", "yuerd.toml:18: wecom.app.aes_key: expected exactly 43 characters"},
      {"app aes_key from env is the token", appended("[wecom.app]\ntoken_file = \"app_token\"\naes_key_env = \"K\"\n"),
       {{"K", kAppToken}}, "config.bad_secret", "yuerd.toml:18: wecom.app.aes_key"},
      {"app token 33 chars", appended("[wecom.app]\ntoken_file = \"token_33\"\naes_key_file = \"app_aes_key\"\n"), {},
       "config.bad_secret", "yuerd.toml:17: wecom.app.token: expected 1 to 32 characters"},
      {"app token with a dash", appended("[wecom.app]\ntoken_file = \"token_dash\"\naes_key_file = \"app_aes_key\"\n"),
       {}, "config.bad_secret", "yuerd.toml:17: wecom.app.token"},
      {"app token file empty", appended("[wecom.app]\ntoken_file = \"empty\"\naes_key_file = \"app_aes_key\"\n"), {},
       "config.bad_secret", "yuerd.toml:17: wecom.app.token: expected 1 to 32 characters"},
      {"app token file missing", appended("[wecom.app]\ntoken_file = \"nope\"\naes_key_file = \"app_aes_key\"\n"), {},
       "config.secret_unreadable", "yuerd.toml:17: wecom.app.token_file: cannot open"},
      {"app token file is a directory",
       appended("[wecom.app]\ntoken_file = \"secret_dir\"\naes_key_file = \"app_aes_key\"\n"), {},
       "config.secret_unreadable", "secret_dir is not a regular file"},
      {"app token env unset", appended("[wecom.app]\ntoken_env = \"YUER_NOPE\"\naes_key_file = \"app_aes_key\"\n"), {},
       "config.secret_unreadable", "yuerd.toml:17: wecom.app.token_env: environment variable YUER_NOPE is not set"},
      {"app token credential without CREDENTIALS_DIRECTORY",
       appended("[wecom.app]\ntoken_credential = \"app_token\"\naes_key_file = \"app_aes_key\"\n"), {},
       "config.secret_unreadable", "yuerd.toml:17: wecom.app.token_credential: $CREDENTIALS_DIRECTORY is not set"},
      {"app token credential escaping the directory",
       appended("[wecom.app]\ntoken_credential = \"../app_token\"\naes_key_file = \"app_aes_key\"\n"),
       {{"CREDENTIALS_DIRECTORY", "@DIR@/creds"}}, "config.bad_value",
       "yuerd.toml:17: wecom.app.token_credential: \"../app_token\" is not a credential name"},
      {"app token credential missing",
       appended("[wecom.app]\ntoken_credential = \"nope\"\naes_key_file = \"app_aes_key\"\n"),
       {{"CREDENTIALS_DIRECTORY", "@DIR@/creds"}}, "config.secret_unreadable",
       "yuerd.toml:17: wecom.app.token_credential: cannot open"},
      {"app token_file not a string", appended("[wecom.app]\ntoken_file = 5\naes_key_file = \"app_aes_key\"\n"), {},
       "config.wrong_type", "yuerd.toml:17: wecom.app.token_file: expected a string, got an integer"},
      {"app token_file empty string", appended("[wecom.app]\ntoken_file = \"\"\naes_key_file = \"app_aes_key\"\n"), {},
       "config.bad_value", "yuerd.toml:17: wecom.app.token_file: must not be empty"},
      {"app key typo", appended("[wecom.app]\ntoken_file = \"app_token\"\naes_key_fil = \"app_aes_key\"\n"), {},
       "config.unknown_key", "yuerd.toml:18: wecom.app.aes_key_fil: unknown key; did you mean aes_key_file?"},
      {"app is not a table", with_line(10, "app = 3"), {}, "config.wrong_type",
       "yuerd.toml:10: wecom.app: expected a table, got an integer"},

      // [[wecom.bot]]
      {"bot name missing", appended("[[wecom.bot]]\ntoken_file = \"bot_token\"\naes_key_file = \"bot_aes_key\"\n"), {},
       "config.missing_key", "yuerd.toml:16: wecom.bot[0].name: missing"},
      {"bot name upper case", appended("[[wecom.bot]]\nname = \"County\"\ntoken_file = \"bot_token\"\naes_key_file = \"bot_aes_key\"\n"),
       {}, "config.bad_value", "yuerd.toml:17: wecom.bot[0].name: \"County\" is not a robot name"},
      {"bot name too long",
       appended("[[wecom.bot]]\nname = \"" + std::string(33, 'a') +
                "\"\ntoken_file = \"bot_token\"\naes_key_file = \"bot_aes_key\"\n"),
       {}, "config.bad_value", "yuerd.toml:17: wecom.bot[0].name"},
      {"bot name with a slash", appended("[[wecom.bot]]\nname = \"a/b\"\ntoken_file = \"bot_token\"\naes_key_file = \"bot_aes_key\"\n"),
       {}, "config.bad_value", "yuerd.toml:17: wecom.bot[0].name"},
      {"bot names duplicate", appended(kBot + kBot), {}, "config.duplicate_name",
       "yuerd.toml:21: wecom.bot[1].name: \"county\" is already the name of wecom.bot[0]"},
      {"bot written as a single table", appended("[wecom.bot]\nname = \"county\"\n"), {}, "config.wrong_type",
       "wecom.bot: expected an array of tables ([[wecom.bot]] sections), got a table"},
      {"bot inline aes_key", appended(kBot + "aes_key = \"" + kInlineSecret + "\"\n"), {}, "config.inline_secret",
       "yuerd.toml:20: wecom.bot[0].aes_key: inline secrets are refused"},
      {"bot unknown key", appended(kBot + "path = \"/x\"\n"), {}, "config.unknown_key",
       "yuerd.toml:20: wecom.bot[0].path: unknown key; expected one of: name, token_file, token_env, token_credential, "
       "aes_key_file, aes_key_env, aes_key_credential"},
      {"typo of an inline secret name suggests the _file key", with_line(15, "tokenfile = \"admin_token\""), {},
       "config.unknown_key", "yuerd.toml:15: admin.tokenfile: unknown key; did you mean token_file?"},
      {"second bot bad secret", appended(kBot + "[[wecom.bot]]\nname = \"town\"\ntoken_file = \"bot_token\"\naes_key_file = \"aes_key_42\"\n"),
       {}, "config.bad_secret", "yuerd.toml:23: wecom.bot[1].aes_key"},

      // [callback]
      {"replay window zero", appended("[callback]\nreplay_window_s = 0\n"), {}, "config.bad_value",
       "yuerd.toml:17: callback.replay_window_s"},
      {"max body as string", appended("[callback]\nmax_body_bytes = \"64k\"\n"), {}, "config.wrong_type",
       "yuerd.toml:17: callback.max_body_bytes: expected an integer"},
      {"replay cache zero", appended("[callback]\nreplay_cache_size = 0\n"), {}, "config.bad_value",
       "yuerd.toml:17: callback.replay_cache_size"},
      {"callback typo", appended("[callback]\nreplay_window = 300\n"), {}, "config.unknown_key",
       "yuerd.toml:17: callback.replay_window: unknown key; did you mean replay_window_s?"},

      // [time]
      {"zone missing", with_line(12, ""), {}, "config.missing_key", "yuerd.toml:11: time.zone: missing"},
      {"time table missing", edit({{11, ""}, {12, ""}}), {}, "config.missing_key", "yuerd.toml:1: time.zone"},
      {"zone unknown", with_line(12, "zone = \"Mars/Olympus_Mons\""), {}, "config.bad_value",
       "yuerd.toml:12: time.zone: \"Mars/Olympus_Mons\" is not a time zone"},
      {"zone path traversal", with_line(12, "zone = \"../../../etc/passwd\""), {}, "config.bad_value",
       "yuerd.toml:12: time.zone"},
      {"zone absolute path", with_line(12, "zone = \"/etc/localtime\""), {}, "config.bad_value", "yuerd.toml:12: time.zone"},
      {"zone is a directory", with_line(12, "zone = \"Asia\""), {}, "config.bad_value", "yuerd.toml:12: time.zone"},
      {"zone empty", with_line(12, "zone = \"\""), {}, "config.bad_value", "yuerd.toml:12: time.zone"},

      // [admin]
      {"admin token missing", with_line(15, ""), {}, "config.missing_key",
       "yuerd.toml:14: admin.token: missing; expected one of token_file, token_env or token_credential"},
      {"admin table missing", edit({{14, ""}, {15, ""}}), {}, "config.missing_key", "yuerd.toml:1: admin.token"},
      {"admin inline token", with_line(15, "token = \"" + kInlineSecret + "\""), {}, "config.inline_secret",
       "yuerd.toml:15: admin.token: inline secrets are refused; use token_file, token_env or token_credential"},
      {"admin token file mode 0644", with_line(15, "token_file = \"admin_token_0644\""), {}, "config.secret_insecure",
       "yuerd.toml:15: admin.token_file: "},
      {"admin token file mode 0640", with_line(15, "token_file = \"admin_token_0640\""), {}, "config.secret_insecure",
       "(mode 0640)"},
      {"admin token too short", with_line(15, "token_file = \"short_admin\""), {}, "config.bad_secret",
       "yuerd.toml:15: admin.token: expected 16 to 512 visible ASCII characters"},
      {"admin token too short from env", with_line(15, "token_env = \"YUER_ADMIN_TOKEN\""),
       {{"YUER_ADMIN_TOKEN", kShortAdmin}}, "config.bad_secret", "(value read from admin.token_env)"},
      {"admin token from file and credential", with_line(15, "token_file = \"admin_token\"\ntoken_credential = \"admin_token\""),
       {{"CREDENTIALS_DIRECTORY", "@DIR@/creds"}}, "config.secret_source",
       "yuerd.toml:16: admin.token_credential: admin.token_file is already set; set exactly one of"},
      {"allow_remote as string", with_line(15, "token_file = \"admin_token\"\nallow_remote = \"yes\""), {},
       "config.wrong_type", "yuerd.toml:16: admin.allow_remote: expected a boolean"},
      {"admin typo", with_line(15, "token_file = \"admin_token\"\ntoken_fille = \"x\""), {}, "config.unknown_key",
       "yuerd.toml:16: admin.token_fille: unknown key; did you mean token_file?"},

      // [log]
      {"log level unknown", appended("[log]\nlevel = \"verbose\"\n"), {}, "config.bad_value",
       "yuerd.toml:17: log.level: \"verbose\" is not a log level"},
      {"log level as number", appended("[log]\nlevel = 3\n"), {}, "config.wrong_type", "yuerd.toml:17: log.level"},
  };
}

struct Loaded {
  TempDir dir;
  fs::path file;
  yuer::Result<Settings> result = yuer::Error{};
};

// Writes `toml` as <tmp>/yuerd.toml next to the standard secret files and loads it.
void load_in_temp(Loaded& out, const std::string& toml, const Env& env) {
  write_secrets(out.dir.path());
  out.file = out.dir.path() / "yuerd.toml";
  write_file(out.file, substitute(toml, out.dir.path()), 0644);
  out.result = load_config(out.file.string(), env_of(env, out.dir.path()));
}

}  // namespace

TEST_CASE("config errors name the file, the line and the key", "[yuerd][config]") {
  const Case c = GENERATE(from_range(error_cases()));
  INFO(c.label);
  INFO(c.toml);
  Loaded l;
  load_in_temp(l, c.toml, c.env);
  REQUIRE_FALSE(l.result.has_value());
  const yuer::Error& e = l.result.error();
  INFO(e.message);
  CHECK(e.code == c.code);
  CHECK(e.message.find(c.substring) != std::string::npos);
  CHECK(e.message.rfind(l.file.string() + ":", 0) == 0);
  for (const auto& secret : all_secrets()) {
    CAPTURE(secret);
    CHECK(e.message.find(secret) == std::string::npos);
  }
}

TEST_CASE("minimal config loads with defaults and resolves paths", "[yuerd][config]") {
  Loaded l;
  load_in_temp(l, kMinimal, {});
  REQUIRE(l.result.has_value());
  const Settings& s = *l.result;
  CHECK(s.source_file == l.file.string());
  CHECK(s.server.listen == "127.0.0.1:0");
  CHECK(s.server.max_connections == 4096);
  CHECK(s.server.io_threads == std::max(1u, std::thread::hardware_concurrency()));
  CHECK(s.store.path == (l.dir.path() / "yuer.db").string());
  CHECK(s.store.synchronous == "full");
  CHECK(s.api_base == "https://qyapi.weixin.qq.com");
  CHECK(s.corp_id == "ww0test");
  CHECK(s.time_zone == "Asia/Shanghai");
  CHECK(s.admin_token == kAdminToken);  // trailing newline stripped
  CHECK_FALSE(s.admin_allow_remote);
  CHECK(s.callback.receivers.empty());
  CHECK(s.log_level == spdlog::level::info);
}

TEST_CASE("full config fills every field, secrets come from file, env and credential", "[yuerd][config]") {
  const std::string toml = R"(
[server]
listen = "[::1]:8443"
max_connections = 100
header_limit_bytes = 16384
body_limit_bytes = 2097152
read_timeout_ms = 1000
idle_timeout_ms = 2000
write_timeout_ms = 3000
io_threads = 3

[store]
path = "/srv/yuer/yuer.db"
synchronous = "normal"
busy_timeout_ms = 250

[inbox]
max_batch = 64

[wecom]
api_base = "http://localhost:9080/"
corp_id = "ww0demo000county"

[wecom.app]
token_credential = "app_token"
aes_key_credential = "app_aes_key"

[[wecom.bot]]
name = "county"
token_file = "bot_token"
aes_key_env = "BOT_AES"

[[wecom.bot]]
name = "town_2"
token_env = "BOT2_TOKEN"
aes_key_file = "bot_aes_key"

[callback]
replay_window_s = 60
replay_cache_size = 1000
max_body_bytes = 4096

[time]
zone = "UTC"

[admin]
token_credential = "admin_token"
allow_remote = true

[log]
level = "debug"
)";
  Loaded l;
  load_in_temp(l, toml,
               {{"CREDENTIALS_DIRECTORY", "@DIR@/creds"}, {"BOT_AES", kBotAesKey}, {"BOT2_TOKEN", "Town2Token"}});
  INFO((l.result.has_value() ? std::string() : l.result.error().message));
  REQUIRE(l.result.has_value());
  const Settings& s = *l.result;
  CHECK(s.server.listen == "[::1]:8443");
  CHECK(s.server.max_connections == 100);
  CHECK(s.server.header_limit == 16384);
  CHECK(s.server.default_body_limit == 2097152);
  CHECK(s.server.read_timeout == std::chrono::milliseconds(1000));
  CHECK(s.server.idle_timeout == std::chrono::milliseconds(2000));
  CHECK(s.server.write_timeout == std::chrono::milliseconds(3000));
  CHECK(s.server.io_threads == 3);
  CHECK(s.store.path == "/srv/yuer/yuer.db");
  CHECK(s.store.synchronous == "normal");
  CHECK(s.store.busy_timeout_ms == 250);
  CHECK(s.inbox.max_batch == 64);
  CHECK(s.api_base == "http://localhost:9080");
  CHECK(s.corp_id == "ww0demo000county");
  REQUIRE(s.callback.receivers.size() == 3);
  const auto& app = s.callback.receivers[0];
  CHECK(app.name == "app");
  CHECK(app.path == "/wecom/callback/app");
  CHECK_FALSE(app.json);
  CHECK(app.token == kAppToken);
  CHECK(app.aes_key == kAppAesKey);
  CHECK(app.receive_id == "ww0demo000county");
  const auto& bot = s.callback.receivers[1];
  CHECK(bot.name == "bot/county");
  CHECK(bot.path == "/wecom/callback/bot/county");
  CHECK(bot.json);
  CHECK(bot.token == kBotToken);
  CHECK(bot.aes_key == kBotAesKey);
  CHECK(bot.receive_id.empty());
  CHECK(s.callback.receivers[2].name == "bot/town_2");
  CHECK(s.callback.receivers[2].path == "/wecom/callback/bot/town_2");
  CHECK(s.callback.receivers[2].token == "Town2Token");
  CHECK(s.callback.replay_window_s == 60);
  CHECK(s.callback.replay_cache_size == 1000);
  CHECK(s.callback.max_body_bytes == 4096);
  CHECK(s.time_zone == "UTC");
  CHECK(s.admin_token == kCredAdminToken);
  CHECK(s.admin_allow_remote);
  CHECK(s.log_level == spdlog::level::debug);
}

TEST_CASE("api_base accepts https anywhere and http on loopback only", "[yuerd][config]") {
  auto [given, stored] = GENERATE(table<std::string, std::string>({
      {"https://qyapi.weixin.qq.com", "https://qyapi.weixin.qq.com"},
      {"https://qyapi.weixin.qq.com/", "https://qyapi.weixin.qq.com"},
      {"https://10.1.2.3:8443/wecom", "https://10.1.2.3:8443/wecom"},
      {"http://127.0.0.1:9080", "http://127.0.0.1:9080"},
      {"http://[::1]:9080/", "http://[::1]:9080"},
      {"http://localhost:9080", "http://localhost:9080"},
  }));
  CAPTURE(given);
  Loaded l;
  load_in_temp(l, with_line(8, "api_base = \"" + given + "\""), {});
  INFO((l.result.has_value() ? std::string() : l.result.error().message));
  REQUIRE(l.result.has_value());
  CHECK(l.result->api_base == stored);
}

TEST_CASE("secret file path is relative to the config folder, not the working directory", "[yuerd][config]") {
  TempDir dir;
  write_secrets(dir.path() / "etc");
  write_file(dir.path() / "etc" / "yuerd.toml", with_line(5, "path = \"../state/yuer.db\""), 0644);
  auto r = load_config((dir.path() / "etc" / "yuerd.toml").string(), env_of({}, dir.path()));
  REQUIRE(r.has_value());
  CHECK(r->admin_token == kAdminToken);
  CHECK(r->store.path == (dir.path() / "state" / "yuer.db").string());
}

TEST_CASE("a config file that cannot be read is config.read", "[yuerd][config]") {
  TempDir dir;
  auto r = load_config((dir.path() / "absent.toml").string(), env_of({}, dir.path()));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == "config.read");
  CHECK(r.error().message.find("absent.toml") != std::string::npos);
}

// The shipped examples must load as they are, once their secrets exist.
TEST_CASE("config/yuerd.example.toml loads with the demo's secret files", "[yuerd][config]") {
  TempDir dir;
  fs::create_directories(dir.path() / "config");
  fs::copy_file(fs::path(YUER_SOURCE_DIR) / "config" / "yuerd.example.toml", dir.path() / "config" / "yuerd.example.toml");
  const fs::path secrets = dir.path() / "var" / "secrets";
  write_file(secrets / "app_token", kAppToken + "\n");
  write_file(secrets / "app_aes_key", kAppAesKey + "\n");
  write_file(secrets / "bot_county_token", kBotToken + "\n");
  write_file(secrets / "bot_county_aes_key", kBotAesKey + "\n");
  write_file(secrets / "admin_token", kAdminToken + "\n");
  auto r = load_config((dir.path() / "config" / "yuerd.example.toml").string(), env_of({}, dir.path()));
  INFO((r.has_value() ? std::string() : r.error().message));
  REQUIRE(r.has_value());
  CHECK(r->server.listen == "127.0.0.1:8080");
  CHECK(r->store.path == (dir.path() / "var" / "yuer.db").string());
  CHECK(r->api_base == "http://127.0.0.1:9080");
  CHECK(r->corp_id == "ww0demo000county");
  REQUIRE(r->callback.receivers.size() == 2);
  CHECK(r->callback.receivers[0].name == "app");
  CHECK(r->callback.receivers[0].token == kAppToken);
  CHECK(r->callback.receivers[1].name == "bot/county");
  CHECK(r->callback.receivers[1].aes_key == kBotAesKey);
  CHECK(r->admin_token == kAdminToken);
}

TEST_CASE("config/yuerd.systemd.toml loads with systemd credentials", "[yuerd][config]") {
  TempDir dir;
  const fs::path creds = dir.path() / "credentials";
  write_file(creds / "app_token", kAppToken + "\n", 0400);
  write_file(creds / "app_aes_key", kAppAesKey + "\n", 0400);
  write_file(creds / "bot_county_token", kBotToken + "\n", 0400);
  write_file(creds / "bot_county_aes_key", kBotAesKey + "\n", 0400);
  write_file(creds / "admin_token", kAdminToken + "\n", 0400);
  write_file(creds / "field_keys", "k1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0400);
  auto r = load_config((fs::path(YUER_SOURCE_DIR) / "config" / "yuerd.systemd.toml").string(),
                       env_of({{"CREDENTIALS_DIRECTORY", creds.string()}}, dir.path()));
  INFO((r.has_value() ? std::string() : r.error().message));
  REQUIRE(r.has_value());
  CHECK(r->store.path == "/var/lib/yuer/yuer.db");
  REQUIRE(r->callback.receivers.size() == 2);
  CHECK(r->callback.receivers[0].aes_key == kAppAesKey);
  CHECK(r->callback.receivers[1].token == kBotToken);
  CHECK(r->admin_token == kAdminToken);
}

// The name before "=" on a `key = value` line, or "" for comments, headers and blank lines.
std::string key_of(const std::string& line) {
  auto begin = line.find_first_not_of(" \t");
  if (begin == std::string::npos || line[begin] == '#' || line[begin] == '[') return {};
  auto end = begin;
  while (end < line.size() && (std::isalnum(static_cast<unsigned char>(line[end])) || line[end] == '_')) ++end;
  auto eq = line.find_first_not_of(" \t", end);
  if (end == begin || eq == std::string::npos || line[eq] != '=') return {};
  return line.substr(begin, end - begin);
}

bool is_comment(const std::string& line) {
  auto begin = line.find_first_not_of(" \t");
  return begin != std::string::npos && line[begin] == '#';
}

// "Every key commented": each key line has a comment on it or directly above it.
TEST_CASE("every key in the example configs carries a comment", "[yuerd][config]") {
  auto file = GENERATE(as<std::string>{}, "yuerd.example.toml", "yuerd.systemd.toml");
  CAPTURE(file);
  std::istringstream in(read_file(fs::path(YUER_SOURCE_DIR) / "config" / file));
  std::string previous;
  int keys = 0;
  for (std::string line; std::getline(in, line); previous = line) {
    const std::string key = key_of(line);
    if (key.empty()) continue;
    ++keys;
    CAPTURE(line);
    CHECK((line.find('#') != std::string::npos || is_comment(previous)));
    // Shipped examples never hold an inline secret.
    CHECK(key != "token");
    CHECK(key != "aes_key");
  }
  CHECK(keys >= 25);
}

// Issue 4: outbound settings ([wecom] timeouts, [wecom.robots], [wecom.app] agent_id + secret, [outbox]).
TEST_CASE("outbound settings: robot keys file, app secret, outbox tuning", "[yuerd][config][outbox]") {
  struct OutCase {
    const char* label;
    std::string toml;
    std::string keys;       // content of robot_keys
    std::string code;       // "" = loads
    std::string substring;  // in the error message
  };
  const std::string robots = "[wecom.robots]\nkeys_file = \"robot_keys\"\n";
  const std::vector<OutCase> cases = {
      {"robots and outbox", appended(robots + "per_key_per_window = 15\n\n[outbox]\nmax_in_flight = 8\nbackoff_base_ms = 100\n"),
       "# group key\nwrQinghe01 0f1e-2d3c\n\nwrQinghe02\t9a8b-7c6d\n", "", ""},
      {"robot line without key", appended(robots), "wrQinghe01\n", "config.bad_secret",
       "yuerd.toml:17: wecom.robots.keys: line 1: expected \"<group> <key>\""},
      {"robot group twice", appended(robots), "g1 k1\ng1 k2\n", "config.bad_secret", "line 2: group g1 appears twice"},
      {"robot inline keys", appended("[wecom.robots]\nkeys = \"g1 k1\"\n"), "", "config.inline_secret",
       "wecom.robots.keys: inline secrets are refused"},
      {"robot per key over WeCom's 20", appended(robots + "per_key_per_window = 21\n"), "g k\n", "config.bad_value",
       "wecom.robots.per_key_per_window: 21 is out of range"},
      {"app agent_id without secret", appended(kApp + "agent_id = 1000002\n"), "", "config.missing_key",
       "wecom.app.secret: missing"},
      {"app secret without agent_id", appended(kApp + "secret_file = \"app_token\"\n"), "", "config.missing_key",
       "wecom.app.agent_id: missing"},
      {"outbox unknown key", appended("[outbox]\nmax_inflight = 3\n"), "", "config.unknown_key",
       "did you mean max_in_flight?"},
      {"group task reminders too often", appended("[group_task]\nremind_every_s = 3600\n"), "", "config.bad_value",
       "group_task.remind_every_s"},
      {"group tasks switched with a string", appended("[group_task]\nenabled = \"yes\"\n"), "", "config.wrong_type",
       "group_task.enabled"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    TempDir dir;
    write_secrets(dir.path());
    write_file(dir.path() / "robot_keys", c.keys);
    write_file(dir.path() / "yuerd.toml", c.toml);
    auto r = load_config((dir.path() / "yuerd.toml").string(), env_of({}, dir.path()));
    if (c.code.empty()) {
      INFO((r.has_value() ? std::string() : r.error().message));
      REQUIRE(r.has_value());
      CHECK(r->outbound.robot_keys.size() == 2);
      CHECK(r->outbound.robot_keys.at("wrQinghe02") == "9a8b-7c6d");
      CHECK(r->outbound.robot_per_key_per_window == 15);
      CHECK(r->outbox.max_in_flight == 8);
      CHECK(r->outbox.backoff_base == std::chrono::milliseconds(100));
    } else {
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == c.code);
      CHECK(r.error().message.find(c.substring) != std::string::npos);
      // Secret values never appear in messages.
      CHECK(r.error().message.find("k1") == std::string::npos);
    }
  }
}

TEST_CASE("group task settings: defaults and tuning in seconds", "[yuerd][config][group_task]") {
  TempDir dir;
  write_secrets(dir.path());
  write_file(dir.path() / "yuerd.toml", appended(""));
  auto d = load_config((dir.path() / "yuerd.toml").string(), env_of({}, dir.path()));
  REQUIRE(d.has_value());
  CHECK(d->group_task_enabled);
  CHECK(d->group_task.batch_delay == std::chrono::minutes(10));
  CHECK(d->group_task.give_up_after == std::chrono::hours(72));
  write_file(dir.path() / "yuerd.toml",
             appended("[group_task]\nenabled = false\nbatch_delay_s = 0\nremind_every_s = 43200\ngive_up_after_s = 86400\n"));
  auto t = load_config((dir.path() / "yuerd.toml").string(), env_of({}, dir.path()));
  REQUIRE(t.has_value());
  CHECK_FALSE(t->group_task_enabled);
  CHECK(t->group_task.batch_delay == std::chrono::milliseconds(0));
  CHECK(t->group_task.remind_every == std::chrono::hours(12));
  CHECK(t->group_task.give_up_after == std::chrono::hours(24));
}

TEST_CASE("groups settings: defaults, tuning, and bad caps or modes exit with the key named", "[yuerd][config][groups]") {
  TempDir dir;
  write_secrets(dir.path());
  write_file(dir.path() / "yuerd.toml", appended(""));
  auto d = load_config((dir.path() / "yuerd.toml").string(), env_of({}, dir.path()));
  REQUIRE(d.has_value());
  CHECK_FALSE(d->groups_enabled);
  CHECK(d->groups.caps.soft == 350);
  CHECK(d->groups.caps.hard == 400);
  CHECK(d->groups.create_mode == "ask");
  write_file(dir.path() / "yuerd.toml",
             appended("[groups]\nenabled = true\nsoft_cap = 300\nhard_cap = 380\njoin_headroom = 5\ncreate_mode = \"auto\"\n"
                      "reconcile_every_s = 60\nrefresh_delay_ms = 0\n"));
  auto t = load_config((dir.path() / "yuerd.toml").string(), env_of({}, dir.path()));
  REQUIRE(t.has_value());
  CHECK(t->groups_enabled);
  CHECK(t->groups.caps.soft == 300);
  CHECK(t->groups.caps.hard == 380);
  CHECK(t->groups.caps.headroom == 5);
  CHECK(t->groups.create_mode == "auto");
  CHECK(t->groups.reconcile_every == std::chrono::minutes(1));
  CHECK(t->groups.refresh_delay == std::chrono::milliseconds(0));
  struct Bad {
    const char* toml;
    const char* code;
    const char* key;
  };
  const std::vector<Bad> bad = {
      {"[groups]\nsoft_cap = 401\n", "config.bad_value", "groups.soft_cap"},
      {"[groups]\nhard_cap = 1\n", "config.bad_value", "groups.hard_cap"},
      {"[groups]\njoin_headroom = 400\n", "config.bad_value", "groups.join_headroom"},
      {"[groups]\ncreate_mode = \"sometimes\"\n", "config.bad_value", "groups.create_mode"},
      {"[groups]\nenabled = 1\n", "config.wrong_type", "groups.enabled"},
      {"[groups]\nsoftcap = 3\n", "config.unknown_key", "groups.softcap"},
      {"[groups]\nreconcile_every_s = 1\n", "config.bad_value", "groups.reconcile_every_s"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.toml);
    write_file(dir.path() / "yuerd.toml", appended(b.toml));
    auto r = load_config((dir.path() / "yuerd.toml").string(), env_of({}, dir.path()));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == b.code);
    CHECK(r.error().message.find(b.key) != std::string::npos);
  }
}

TEST_CASE("kf settings: [wecom.kf] needs the app's secret, open_kfids are ids, a margin in seconds",
          "[yuerd][config][kf]") {
  const std::string app = kApp + "agent_id = 1000002\nsecret_file = \"app_token\"\n";
  struct KfCase {
    const char* label;
    std::string toml;
    std::string code;       // "" = loads
    std::string substring;  // in the error message
  };
  const std::vector<KfCase> cases = {
      {"accounts and margin", appended(app + "[wecom.kf]\nopen_kfids = [\"wkA\", \"wk_B-2\"]\nwindow_margin_s = 300\n"),
       "", ""},
      {"kf without the app's secret", appended(kApp + "[wecom.kf]\n"), "config.missing_key", "[wecom.kf] needs [wecom.app]"},
      {"kf without the app", appended("[wecom.kf]\n"), "config.missing_key", "[wecom.kf] needs [wecom.app]"},
      {"an open_kfid with a space", appended(app + "[wecom.kf]\nopen_kfids = [\"wk A\"]\n"), "config.bad_value",
       "wecom.kf.open_kfids"},
      {"open_kfids as a string", appended(app + "[wecom.kf]\nopen_kfids = \"wkA\"\n"), "config.wrong_type",
       "wecom.kf.open_kfids"},
      {"margin over a day", appended(app + "[wecom.kf]\nwindow_margin_s = 90000\n"), "config.bad_value",
       "wecom.kf.window_margin_s"},
      {"unknown key", appended(app + "[wecom.kf]\nopen_kfid = [\"wkA\"]\n"), "config.unknown_key", "open_kfids"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    TempDir dir;
    write_secrets(dir.path());
    write_file(dir.path() / "yuerd.toml", c.toml);
    auto r = load_config((dir.path() / "yuerd.toml").string(), env_of({}, dir.path()));
    if (c.code.empty()) {
      INFO((r.has_value() ? std::string() : r.error().message));
      REQUIRE(r.has_value());
      CHECK(r->outbound.kf);
      CHECK(r->outbound.kf_open_kfids == std::vector<std::string>{"wkA", "wk_B-2"});
      CHECK(r->outbound.kf_window_margin_s == 300);
    } else {
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == c.code);
      INFO(r.error().message);
      CHECK(r.error().message.find(c.substring) != std::string::npos);
    }
  }
  TempDir dir;
  write_secrets(dir.path());
  write_file(dir.path() / "yuerd.toml", appended(app));
  auto off = load_config((dir.path() / "yuerd.toml").string(), env_of({}, dir.path()));
  REQUIRE(off.has_value());
  CHECK_FALSE(off->outbound.kf);
  CHECK(off->outbound.kf_window_margin_s == 600);
}
