#include "daemon/yuerctl/admin_commands.h"

#include "daemon/net/http_client.h"
#include "daemon/yuerctl/table.h"

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

namespace yuer::yuerctl {
namespace {

using nlohmann::json;

constexpr int kOk = 0;
constexpr int kRuntime = 1;
constexpr int kUsage = 2;
constexpr const char* kUsageHint = "usage: yuerctl [--url URL] [--token-file FILE] tokens|audit ... (yuerctl --help)";

int die(int code, const std::string& message) {
  std::cerr << "yuerctl: " << message << "\n";
  return code;
}

struct Options {
  std::string method, path, data;
  bool no_token = false;
  std::string name, role, unit;
  std::int64_t id = 0;
  int limit = 50;
  bool json_out = false;
};

std::string format_ms(std::int64_t ms, const std::string& tz) {
  if (ms <= 0) return "-";
  ::setenv("TZ", tz.c_str(), 1);
  ::tzset();
  std::time_t t = ms / 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

const char* role_text(const std::string& r) {
  if (r == "superuser") return "总管理员";
  if (r == "province_admin") return "省级管理员";
  if (r == "city_admin") return "市级管理员";
  if (r == "county_admin") return "县级管理员";
  if (r == "township_coordinator") return "乡镇协调员";
  if (r == "viewer") return "只读";
  return "?";
}

// One call to the admin API. Usage errors (unreachable, bad token, forbidden) exit 2, other
// refusals 1.
int call(const CtlContext& ctx, http::Verb verb, const std::string& path, const std::string& body, json& out) {
  struct stat st {};
  if (::stat(ctx.token_file->c_str(), &st) != 0)
    return die(kUsage, "cannot read token file " + *ctx.token_file + " (use --token-file or YUER_ADMIN_TOKEN_FILE)");
  if (st.st_mode & 077) return die(kUsage, "token file " + *ctx.token_file + " is readable by group or others; chmod 600 it");
  std::ifstream in(*ctx.token_file);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return die(kUsage, "token file " + *ctx.token_file + " is empty");
  std::vector<std::pair<std::string, std::string>> headers = {{"Authorization", "Bearer " + token}};
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  auto rsp = net::http_request(verb, *ctx.url + path, body, headers);
  if (!rsp) return die(kUsage, "cannot reach yuerd at " + *ctx.url + ": " + rsp.error().message + "\n" + kUsageHint);
  out = json::parse(rsp->body, nullptr, false);
  std::string msg = out.is_object() && out.contains("error") ? out["error"].value("message", "") : rsp->body;
  if (rsp->status == 401) return die(kUsage, "yuerd refused the admin token from " + *ctx.token_file + " (bad token)\n" + kUsageHint);
  if (rsp->status == 429) return die(kUsage, "yuerd locked this address out after repeated wrong tokens; wait and retry");
  if (rsp->status == 403) return die(kUsage, "forbidden: " + msg + "\n" + kUsageHint);
  if (rsp->status == 422) return die(kUsage, msg + "\n" + kUsageHint);
  if (rsp->status / 100 != 2) return die(kRuntime, "yuerd answered " + std::to_string(rsp->status) + ": " + msg);
  if (out.is_discarded()) return die(kRuntime, "yuerd answered with a body that is not JSON");
  return kOk;
}

void print_json(const json& j) { std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n"; }

int tokens_add(const CtlContext& ctx, const Options& o) {
  json out;
  json body = {{"name", o.name}, {"role", o.role}, {"unit", o.unit}};
  if (int rc = call(ctx, http::Verb::post, "/api/v1/tokens", body.dump(), out); rc != kOk) return rc;
  if (o.json_out) {
    print_json(out);
    return kOk;
  }
  const auto& t = out["token"];
  std::cout << "已创建令牌 " << t.value("name", "") << "（" << role_text(t.value("role", "")) << "，单位 "
            << t.value("unit", "") << "，编号 " << t.value("id", 0) << "）\n"
            << "密钥（只显示这一次，请交给使用者保存到权限为 600 的文件）：\n"
            << out.value("secret", "") << "\n";
  return kOk;
}

int tokens_list(const CtlContext& ctx, const Options& o) {
  json out;
  if (int rc = call(ctx, http::Verb::get, "/api/v1/tokens", "", out); rc != kOk) return rc;
  if (o.json_out) {
    print_json(out);
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : out["tokens"])
    rows.push_back({std::to_string(t.value("id", 0)), t.value("name", ""), role_text(t.value("role", "")),
                    t.value("unit", ""), t.value("state", "") == "active" ? "有效" : "已吊销", t.value("created_by", ""),
                    format_ms(t.value("created_ms", std::int64_t{0}), *ctx.tz)});
  print_table(std::cout, {"编号", "名称", "角色", "单位", "状态", "创建者", "创建时间"}, rows);
  std::cout << "共 " << rows.size() << " 个\n";
  return kOk;
}

int tokens_revoke(const CtlContext& ctx, const Options& o) {
  json out;
  if (int rc = call(ctx, http::Verb::post, "/api/v1/tokens/" + std::to_string(o.id) + "/revoke", "{}", out); rc != kOk)
    return rc;
  if (o.json_out) print_json(out);
  else std::cout << "已吊销令牌 " << out["token"].value("name", "") << "\n";
  return kOk;
}

int audit_list(const CtlContext& ctx, const Options& o) {
  json out;
  std::string path = "/api/v1/audit?limit=" + std::to_string(o.limit);
  if (!o.unit.empty()) path += "&unit=" + o.unit;
  if (int rc = call(ctx, http::Verb::get, path, "", out); rc != kOk) return rc;
  if (o.json_out) {
    print_json(out);
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : out["entries"]) {
    std::string what = e.value("method", "") + " " + e.value("path", "");
    if (!e.value("query", "").empty()) what += "?" + e.value("query", "");
    rows.push_back({std::to_string(e.value("id", 0)), format_ms(e.value("at_ms", std::int64_t{0}), *ctx.tz),
                    e.value("actor", ""), role_text(e.value("role", "")), e.value("unit", ""), what,
                    std::to_string(e.value("status", 0))});
  }
  print_table(std::cout, {"编号", "时间", "操作者", "角色", "单位", "操作", "结果"}, rows);
  std::cout << "共 " << rows.size() << " 条\n";
  return kOk;
}

// yuerctl api METHOD PATH [--data JSON|@FILE]: one raw call, the answer's body on stdout (for
// scripts such as scripts/demo.sh). Exit 0 on 2xx, 1 otherwise, 2 when unreachable or refused.
int raw_call(const CtlContext& ctx, const Options& o) {
  std::string body = o.data;
  if (!body.empty() && body[0] == '@') {
    std::ifstream in(body.substr(1), std::ios::binary);
    if (!in) return die(kUsage, "cannot read " + body.substr(1));
    std::ostringstream ss;
    ss << in.rdbuf();
    body = ss.str();
  }
  std::vector<std::pair<std::string, std::string>> headers;
  if (!o.no_token) {
    std::ifstream in(*ctx.token_file);
    std::string token;
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.empty()) return die(kUsage, "cannot read token file " + *ctx.token_file + " (or give --no-token)");
    headers.emplace_back("Authorization", "Bearer " + token);
  }
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  auto verb = boost::beast::http::string_to_verb(o.method);
  if (verb == http::Verb::unknown) return die(kUsage, "unknown method " + o.method + "\n" + kUsageHint);
  auto rsp = net::http_request(verb, *ctx.url + o.path, body, headers);
  if (!rsp) return die(kUsage, "cannot reach " + *ctx.url + ": " + rsp.error().message + "\n" + kUsageHint);
  std::cout << rsp->body << (rsp->body.ends_with("\n") ? "" : "\n");
  if (rsp->status == 401 || rsp->status == 403 || rsp->status == 429) return kUsage;
  return rsp->status / 100 == 2 ? kOk : kRuntime;
}

}  // namespace

std::function<std::optional<int>()> add_admin_commands(CLI::App& cli, CtlContext ctx) {
  auto o = std::make_shared<Options>();
  auto unit_check = CLI::Validator(
      [](std::string& s) {
        return s.size() == 12 && s.find_first_not_of("0123456789") == std::string::npos ? std::string()
                                                                                         : std::string("expected a 12-digit division code");
      },
      "CODE12");
  auto* tokens = cli.add_subcommand("tokens", "scoped admin tokens (role + unit; stored hashed)");
  tokens->require_subcommand(1);
  auto* add = tokens->add_subcommand("add", "create a token; prints its secret once");
  add->add_option("--name", o->name, "a name people recognise, e.g. 东镇协调员")->required();
  add->add_option("--role", o->role, "province_admin, city_admin, county_admin, township_coordinator or viewer")
      ->required()
      ->check(CLI::IsMember({"province_admin", "city_admin", "county_admin", "township_coordinator", "viewer"}));
  add->add_option("--unit", o->unit, "12-digit division code the token is bound to")->required()->check(unit_check);
  add->add_flag("--json", o->json_out, "print JSON");
  auto* list = tokens->add_subcommand("list", "tokens within your unit (never their secrets)");
  list->add_flag("--json", o->json_out, "print JSON");
  auto* revoke = tokens->add_subcommand("revoke", "revoke a token at once");
  revoke->add_option("id", o->id, "token number (tokens list)")->required()->check(CLI::PositiveNumber);
  revoke->add_flag("--json", o->json_out, "print JSON");

  auto* audit = cli.add_subcommand("audit", "the audit log: every change and every export, who and when");
  audit->require_subcommand(1);
  auto* audit_ls = audit->add_subcommand("list", "newest first");
  audit_ls->add_option("--unit", o->unit, "only rows about units starting with these digits")->check(CLI::Number);
  audit_ls->add_option("--limit", o->limit, "rows to show (1-1000)")->capture_default_str()->check(CLI::Range(1, 1000));
  audit_ls->add_flag("--json", o->json_out, "print JSON");

  auto* api = cli.add_subcommand("api", "one raw admin API call; prints the answer (for scripts)");
  api->add_option("method", o->method, "GET, POST, PATCH, ...")->required();
  api->add_option("path", o->path, "/api/v1/... with query")->required();
  api->add_option("--data", o->data, "JSON body, or @FILE");
  api->add_flag("--no-token", o->no_token, "send no Authorization header (e.g. to the sandbox's control API)");

  return [=]() -> std::optional<int> {
    if (*api) return raw_call(ctx, *o);
    if (*add) return tokens_add(ctx, *o);
    if (*list) return tokens_list(ctx, *o);
    if (*revoke) return tokens_revoke(ctx, *o);
    if (*audit_ls) return audit_list(ctx, *o);
    return std::nullopt;
  };
}

}  // namespace yuer::yuerctl
