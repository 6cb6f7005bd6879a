// yuerctl: the admin tool. Online commands talk to the running yuerd's admin API (--url,
// --token-file); offline maintenance (migrate) works on the store file directly.
// Exit codes: 0 success, 1 runtime failure (the daemon refused the request), 2 usage error (bad
// arguments, daemon unreachable, bad token, forbidden unit: something the caller must fix).
#include "daemon/net/http_client.h"
#include "daemon/store/store.h"
#include "daemon/yuerctl/schedules_commands.h"
#include "daemon/yuerctl/surveys_commands.h"
#include "daemon/yuerctl/admin_commands.h"
#include "daemon/yuerctl/backup_commands.h"
#include "daemon/yuerctl/table.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

namespace {

using nlohmann::json;
using yuer::http::Verb;

constexpr int kOk = 0;
constexpr int kRuntime = 1;
constexpr int kUsage = 2;

struct Globals {
  std::string url = "http://127.0.0.1:8080";
  std::string token_file;
  std::string tz = "Asia/Shanghai";
  bool json_out = false;
};

constexpr const char* kUsageHint = "usage: yuerctl [--url URL] [--token-file FILE] COMMAND ... (yuerctl --help)";

// Prints `message` to stderr and returns `code`: the one way commands fail.
int die(int code, const std::string& message) {
  std::cerr << "yuerctl: " << message << "\n";
  return code;
}

// The answers every online command treats alike (issue 8): the caller must fix the call. Returns
// the exit code, or -1 for any other answer.
int usage_failure(const Globals& g, const yuer::net::ClientResponse& rsp) {
  if (rsp.status == 401) return die(kUsage, "yuerd refused the admin token from " + g.token_file + " (bad token)\n" + kUsageHint);
  if (rsp.status == 429) return die(kUsage, "yuerd locked this address out after repeated wrong tokens; wait and retry");
  if (rsp.status == 403) {
    auto body = json::parse(rsp.body, nullptr, false);
    std::string msg = body.is_object() && body.contains("error") ? body["error"].value("message", "") : rsp.body;
    return die(kUsage, "forbidden: " + msg + "\n" + kUsageHint);
  }
  return -1;
}

// Reads the admin token; refuses files that group or other may read, like yuerd does.
bool read_token(const std::string& path, std::string& token, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = "cannot read token file " + path + " (use --token-file or YUER_ADMIN_TOKEN_FILE)";
    return false;
  }
  if (st.st_mode & 077) {
    error = "token file " + path + " is readable by group or others; chmod 600 it";
    return false;
  }
  std::ifstream in(path);
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) {
    error = "token file " + path + " is empty";
    return false;
  }
  return true;
}

std::string format_time(std::int64_t unix_s, const std::string& tz) {
  if (unix_s <= 0) return "-";
  ::setenv("TZ", tz.c_str(), 1);
  ::tzset();
  std::time_t t = unix_s;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// GET `path` on the admin API; on success fills `out` and returns kOk.
int api_get(const Globals& g, const std::string& path, json& out) {
  std::string token, error;
  if (!read_token(g.token_file, token, error)) return die(kUsage, error);
  auto rsp = yuer::net::http_request(Verb::get, g.url + path, {}, {{"Authorization", "Bearer " + token}});
  if (!rsp) return die(kUsage, "cannot reach yuerd at " + g.url + ": " + rsp.error().message + "\n" + kUsageHint);
  if (int rc = usage_failure(g, *rsp); rc >= 0) return rc;
  out = json::parse(rsp->body, nullptr, false);
  if (rsp->status != 200) {
    std::string msg = out.is_object() && out.contains("error") ? out["error"].value("message", "") : rsp->body;
    return die(kRuntime, "yuerd answered " + std::to_string(rsp->status) + ": " + msg);
  }
  if (out.is_discarded()) return die(kRuntime, "yuerd answered with a body that is not JSON");
  return kOk;
}

int cmd_status(const Globals& g) {
  auto rsp = yuer::net::http_request(Verb::get, g.url + "/healthz");
  if (!rsp) return die(kUsage, "cannot reach yuerd at " + g.url + ": " + rsp.error().message);
  auto body = json::parse(rsp->body, nullptr, false);
  if (g.json_out) {
    std::cout << rsp->body << "\n";
  } else if (body.is_object()) {
    std::cout << "状态: " << (rsp->status == 200 ? "正常" : "异常") << " (" << body.value("status", "?") << ")\n"
              << "数据库版本: " << body.value("schema_version", 0) << "\n";
  }
  return rsp->status == 200 ? kOk : kRuntime;
}

struct InboxOptions {
  std::string receiver;
  std::string kind;
  int limit = 50;
  std::int64_t after_id = 0;
  bool oldest_first = false;
  bool payload = false;
};

int cmd_inbox_list(const Globals& g, const InboxOptions& o) {
  std::ostringstream path;
  path << "/api/v1/inbox?limit=" << o.limit << "&order=" << (o.oldest_first ? "oldest" : "newest");
  if (o.after_id > 0) path << "&after_id=" << o.after_id;
  if (!o.receiver.empty()) path << "&receiver=" << o.receiver;
  if (!o.kind.empty()) path << "&kind=" << o.kind;
  if (o.payload) path << "&payload=1";
  json out;
  if (int rc = api_get(g, path.str(), out); rc != kOk) return rc;
  if (g.json_out) {
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : out["items"]) {
    rows.push_back({std::to_string(item.value("id", 0LL)), item.value("receiver", ""), item.value("kind", ""),
                    item.value("from_user", ""), format_time(item.value("received_at", 0LL), g.tz),
                    std::to_string(item.value("deliveries", 0)), std::to_string(item.value("payload_bytes", 0))});
    if (o.payload) rows.back().push_back(item.value("payload", ""));
  }
  std::vector<std::string> header = {"编号", "接收方", "类型", "发送者", "接收时间", "投递次数", "字节"};
  if (o.payload) header.push_back("内容");
  yuer::yuerctl::print_table(std::cout, header, rows);
  std::cout << "共 " << rows.size() << " 条\n";
  return kOk;
}

// POST (or `verb`) `body` to `path`; on success (2xx) fills `out` and returns kOk.
int api_send(const Globals& g, Verb verb, const std::string& path, const std::string& body, json& out) {
  std::string token, error;
  if (!read_token(g.token_file, token, error)) return die(kUsage, error);
  auto rsp = yuer::net::http_request(verb, g.url + path, body,
                                     {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  if (!rsp) return die(kUsage, "cannot reach yuerd at " + g.url + ": " + rsp.error().message + "\n" + kUsageHint);
  if (int rc = usage_failure(g, *rsp); rc >= 0) return rc;
  out = json::parse(rsp->body, nullptr, false);
  if (rsp->status / 100 != 2) {
    std::string msg = out.is_object() && out.contains("error") ? out["error"].value("message", "") : rsp->body;
    return die(kRuntime, "yuerd answered " + std::to_string(rsp->status) + ": " + msg);
  }
  if (out.is_discarded()) return die(kRuntime, "yuerd answered with a body that is not JSON");
  return kOk;
}

int api_post(const Globals& g, const std::string& path, const std::string& body, json& out) {
  return api_send(g, Verb::post, path, body, out);
}

struct PushOptions {
  std::string group;
  std::string user;
  std::string chat;
  std::string kf;
  std::string customer_group;
  int expire_hours = 0;
  std::string text_file;
  std::string markdown_file;
  std::string key;
};

int cmd_push(const Globals& g, const PushOptions& o) {
  const bool markdown = !o.markdown_file.empty();
  std::ifstream in(markdown ? o.markdown_file : o.text_file, std::ios::binary);
  if (!in) return die(kUsage, "cannot read " + (markdown ? o.markdown_file : o.text_file));
  std::ostringstream buf;
  buf << in.rdbuf();
  json body = {{"content", buf.str()}, {"kind", markdown ? "markdown" : "text"}};
  if (!o.group.empty()) body["route"] = "robot", body["target"] = o.group;
  else if (!o.user.empty()) body["route"] = "app", body["target"] = o.user;
  else if (!o.kf.empty()) body["route"] = "kf", body["target"] = o.kf;
  else if (!o.customer_group.empty()) body["route"] = "group_task", body["target"] = o.customer_group;
  else body["route"] = "appchat", body["target"] = o.chat;
  if (o.expire_hours > 0) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    body["expire_at_ms"] = (now + std::chrono::hours(o.expire_hours)).count();
  }
  if (!o.key.empty()) body["key"] = o.key;
  json out;
  if (int rc = api_post(g, "/api/v1/push", body.dump(), out); rc != kOk) return rc;
  if (g.json_out) {
    std::cout << out.dump(2) << "\n";
    return kOk;
  }
  std::cout << (out.value("duplicate", false) ? "已存在（同一键已入队）" : "已入队") << "，消息编号:";
  for (const auto& id : out["ids"]) std::cout << " " << id.get<long long>();
  std::cout << "\n";
  return kOk;
}

struct OutboxOptions {
  std::string route;
  std::string target;
  std::string state;
  int limit = 50;
  std::int64_t id = 0;
};

std::string ms_time(std::int64_t ms, const std::string& tz) { return ms > 0 ? format_time(ms / 1000, tz) : "-"; }

int cmd_outbox_list(const Globals& g, const OutboxOptions& o) {
  std::ostringstream path;
  path << "/api/v1/outbox?limit=" << o.limit;
  if (!o.route.empty()) path << "&route=" << o.route;
  if (!o.target.empty()) path << "&target=" << o.target;
  if (!o.state.empty()) path << "&state=" << o.state;
  json out;
  if (int rc = api_get(g, path.str(), out); rc != kOk) return rc;
  if (g.json_out) {
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& i : out["items"])
    rows.push_back({std::to_string(i.value("id", 0LL)), i.value("route", ""), i.value("target", ""),
                    i.value("state", ""), std::to_string(i.value("attempts", 0)),
                    ms_time(i.value("created_ms", 0LL), g.tz), i.value("last_reason", "")});
  yuer::yuerctl::print_table(std::cout, {"编号", "渠道", "目标", "状态", "尝试", "创建时间", "原因"}, rows);
  std::cout << "共 " << rows.size() << " 条\n";
  return kOk;
}

int cmd_outbox_show(const Globals& g, std::int64_t id) {
  json out;
  if (int rc = api_get(g, "/api/v1/outbox/" + std::to_string(id), out); rc != kOk) return rc;
  if (g.json_out) {
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kOk;
  }
  std::cout << "编号: " << out.value("id", 0LL) << "\n渠道: " << out.value("route", "") << "\n目标: "
            << out.value("target", "") << "\n状态: " << out.value("state", "") << "\n尝试次数: "
            << out.value("attempts", 0) << "\n分段: " << out.value("part", 1) << "/" << out.value("parts", 1)
            << "\n创建时间: " << ms_time(out.value("created_ms", 0LL), g.tz)
            << "\n发送时间: " << ms_time(out.value("sent_ms", 0LL), g.tz)
            << "\n下次尝试: " << ms_time(out.value("next_attempt_ms", 0LL), g.tz)
            << "\n错误码: " << out.value("last_errcode", 0) << "\n原因: " << out.value("last_reason", "")
            << "\n内容:\n" << out.value("content", "") << "\n";
  return kOk;
}

int cmd_outbox_action(const Globals& g, std::int64_t id, const std::string& action) {
  json out;
  if (int rc = api_post(g, "/api/v1/outbox/" + std::to_string(id) + "/" + action, "{}", out); rc != kOk) return rc;
  if (g.json_out) std::cout << out.dump(2) << "\n";
  else std::cout << (action == "retry" ? "已重新排队: " : "已取消: ") << id << "\n";
  return kOk;
}

struct GroupTaskOptions {
  std::string state;
  std::string owner;
  int limit = 50;
};

int cmd_group_tasks_list(const Globals& g, const GroupTaskOptions& o) {
  std::ostringstream path;
  path << "/api/v1/group_tasks?limit=" << o.limit;
  if (!o.state.empty()) path << "&state=" << o.state;
  if (!o.owner.empty()) path << "&owner=" << o.owner;
  json out;
  if (int rc = api_get(g, path.str(), out); rc != kOk) return rc;
  if (g.json_out) {
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : out["tasks"]) {
    int sent = 0, groups = 0;
    for (const auto& [chat, result] : t["chats"].items()) ++groups, sent += result == "sent";
    rows.push_back({std::to_string(t.value("id", 0LL)), t.value("owner", ""), t.value("state", ""),
                    std::to_string(sent) + "/" + std::to_string(groups), std::to_string(t.value("reminds", 0)),
                    ms_time(t.value("created_ms", 0LL), g.tz), t.value("reason", "")});
  }
  yuer::yuerctl::print_table(std::cout, {"编号", "群主", "状态", "已发群数", "提醒次数", "创建时间", "说明"}, rows);
  std::cout << "共 " << rows.size() << " 个任务\n";
  return kOk;
}

// --- org import / roster import: CSV uploads -------------------------------------------

// The daemon refuses larger uploads (org::kMaxImportBytes, the import routes' body limit); checked
// here first so a huge file is never sent.
constexpr std::uintmax_t kMaxImportBytes = 20 * 1024 * 1024;

struct ImportOptions {
  std::string file;
  bool apply = false;
  bool skip_invalid = false;
};

// The "import" subcommand of `parent` (org, roster): a CSV file, dry run unless --apply.
CLI::App* add_import(CLI::App* parent, const std::string& description, const std::string& what, ImportOptions& o,
                     Globals& g) {
  auto* cmd = parent->add_subcommand("import", description);
  cmd->add_option("file", o.file, "CSV file")->required();
  cmd->add_flag("--apply", o.apply, "write the " + what + " (default: dry run, nothing written)");
  cmd->add_flag("--skip-invalid", o.skip_invalid, "with --apply: write the valid rows even when some are bad");
  cmd->add_flag("--json", g.json_out, "print the JSON report");
  return cmd;
}

// Uploads `o.file` to `path` and prints the report. Exit: 0 when the file has no bad row (or
// --skip-invalid applied the good ones), 1 when rows are bad or the daemon refused, 2 when the
// file cannot be read.
int cmd_import(const Globals& g, const std::string& path, const ImportOptions& o) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(o.file, ec);
  if (ec) return die(kUsage, "cannot read " + o.file + ": " + ec.message());
  if (size > kMaxImportBytes) {
    std::ostringstream msg;
    msg << o.file << ": 文件大小 " << std::fixed << std::setprecision(1) << static_cast<double>(size) / 1048576.0
        << " MB 超过上限 20 MB，未上传（请按乡镇拆分后分别导入）";
    return die(kRuntime, msg.str());
  }
  std::ifstream in(o.file, std::ios::binary);
  if (!in) return die(kUsage, "cannot read " + o.file);
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string token, error;
  if (!read_token(g.token_file, token, error)) return die(kUsage, error);
  const std::string target = path + "?dry_run=" + (o.apply ? "0" : "1") + (o.skip_invalid ? "&skip_invalid=1" : "");
  auto rsp = yuer::net::http_request(Verb::post, g.url + target, buf.str(),
                                     {{"Authorization", "Bearer " + token}, {"Content-Type", "text/csv"}},
                                     std::chrono::seconds(300));
  if (!rsp) return die(kUsage, "cannot reach yuerd at " + g.url + ": " + rsp.error().message + "\n" + kUsageHint);
  if (int rc = usage_failure(g, *rsp); rc >= 0) return rc;
  if (rsp->status == 413) return die(kRuntime, o.file + ": yuerd 拒绝：文件超过大小上限 20 MB");
  json out = json::parse(rsp->body, nullptr, false);
  if (rsp->status != 200) {
    std::string msg = out.is_object() && out.contains("error") ? out["error"].value("message", "") : rsp->body;
    return die(kRuntime, "yuerd answered " + std::to_string(rsp->status) + ": " + msg);
  }
  if (!out.is_object()) return die(kRuntime, "yuerd answered with a body that is not JSON");
  const std::size_t bad = out["invalid"].size();
  const bool applied = out.value("applied", false);
  const int rc = (bad == 0 || (applied && o.skip_invalid)) ? kOk : kRuntime;
  if (g.json_out) {
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return rc;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& i : out["invalid"]) {
    const auto row = i.value("row", 0ULL);
    rows.push_back({row == 0 ? "整个文件" : std::to_string(row), i.value("column", ""), i.value("reason", "")});
  }
  if (!rows.empty()) {
    yuer::yuerctl::print_table(std::cout, {"行号", "列", "原因"}, rows);
    std::cout << "\n";
  }
  std::cout << "文件编码: " << (out.value("encoding", "").empty() ? "-" : out.value("encoding", "")) << "\n"
            << "数据行: " << out.value("rows", 0ULL) << "，有效: " << out.value("valid", 0ULL) << "，错误行: "
            << [&] {
                 std::set<std::uint64_t> distinct;
                 for (const auto& i : out["invalid"]) distinct.insert(i.value("row", 0ULL));
                 return distinct.size();
               }()
            << "（问题 " << bad << " 处）\n"
            << (applied ? "新增: " : "将新增: ") << out.value("created", 0ULL) << "，" << (applied ? "更新: " : "将更新: ")
            << out.value("updated", 0ULL) << "，不变: " << out.value("unchanged", 0ULL) << "\n";
  if (applied)
    std::cout << "结果: 已导入" << (bad ? "（已跳过错误行）" : "") << "\n";
  else if (!o.apply)
    std::cout << "结果: 试运行，未写入任何数据。" << (bad ? "请先改正错误行；" : "") << "确认无误后加 --apply 导入\n";
  else
    std::cout << "结果: 未导入（全部导入或全部不导入）。请改正错误行后重试，或加 --skip-invalid 只导入有效行\n";
  return rc;
}

int cmd_org_list(const Globals& g, const std::string& prefix) {
  json out;
  if (int rc = api_get(g, "/api/v1/org" + (prefix.empty() ? std::string() : "?prefix=" + prefix), out); rc != kOk) return rc;
  if (g.json_out) {
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kOk;
  }
  static const char* kLevels[] = {"", "省", "市", "县", "乡镇", "村"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& u : out["units"]) {
    const int level = u.value("level", 0);
    rows.push_back({u.value("code", ""), u.value("name", ""), level >= 1 && level <= 5 ? kLevels[level] : "?",
                    u.value("parent", "")});
  }
  yuer::yuerctl::print_table(std::cout, {"区划代码", "名称", "级别", "上级代码"}, rows);
  std::cout << "共 " << rows.size() << " 个单位\n";
  return kOk;
}

int cmd_roster_list(const Globals& g, const std::string& unit, int limit) {
  json out;
  std::string path = "/api/v1/roster?limit=" + std::to_string(limit);
  if (!unit.empty()) path += "&unit=" + unit;
  if (int rc = api_get(g, path, out); rc != kOk) return rc;
  if (g.json_out) {
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : out["families"]) {
    std::string tags;
    for (const auto& t : f["tags"]) tags += (tags.empty() ? "" : "；") + t.get<std::string>();
    rows.push_back({f.value("child_id", ""), f.value("birth_date", ""), f.value("sex", ""), f.value("unit_code", ""),
                    f.value("phone_masked", ""), f.value("external_userid", ""), tags});
  }
  yuer::yuerctl::print_table(std::cout, {"儿童编号", "出生日期", "性别", "区划代码", "手机（脱敏）", "external_userid", "项目标签"},
                             rows);
  std::cout << "显示 " << rows.size() << " 户，共 " << out.value("total", 0LL) << " 户\n";
  return kOk;
}

struct GroupOptions {
  std::int64_t id = 0;
  std::string kind;
  std::string unit;
  std::string name;
  std::string chat_id;
  std::string route;
  std::string robot;
  std::string owner;
  int soft_cap = -1;
  int hard_cap = -1;
};

// The fields given on the command line, as the admin API's JSON.
json group_body(const GroupOptions& o) {
  json b = json::object();
  for (auto [k, v] : {std::pair{"kind", &o.kind}, {"unit_code", &o.unit}, {"name", &o.name}, {"chat_id", &o.chat_id},
                      {"route", &o.route}, {"robot", &o.robot}, {"owner", &o.owner}})
    if (!v->empty()) b[k] = *v;
  if (o.soft_cap >= 0) b["soft_cap"] = o.soft_cap;
  if (o.hard_cap >= 0) b["hard_cap"] = o.hard_cap;
  return b;
}

const char* state_name(const std::string& s) {
  if (s == "open") return "有空位";
  if (s == "warned") return "接近上限";
  if (s == "closed") return "已满";
  if (s == "dismissed") return "已解散";
  return "?";
}

void print_group(const json& j) {
  const bool parent = j.value("kind", "") == "parent";
  std::cout << "编号: " << j.value("id", 0LL) << "\n类型: " << (parent ? "家长群" : "管理群") << "\n单位: "
            << j.value("unit_code", "") << "\n群名: " << j.value("name", "") << "\n群ID: " << j.value("chat_id", "")
            << "\n渠道: " << j.value("route", "") << (j.value("robot", "").empty() ? "" : " (" + j.value("robot", "") + ")")
            << "\n群主: " << j.value("owner", "") << "\n";
  if (!parent) return;
  std::cout << "人数: " << j.value("members", 0) << " / 上限 " << j.value("hard_cap", 0) << "（提醒线 "
            << j.value("soft_cap", 0) << "）\n状态: " << state_name(j.value("state", "")) << "\n";
  if (j.contains("families"))
    std::cout << "家长成员: " << j["families"].value("parents", 0) << "，已匹配花名册: " << j["families"].value("matched", 0)
              << "，经本镇二维码入群未匹配: " << j["families"].value("joined_by_township_qr", 0) << "\n";
  if (j.contains("join_way"))
    std::cout << "入群二维码: " << j["join_way"].value("qr_code", "") << (j["join_way"].value("listed", false) ? "（本群在列）" : "（本群不在列）")
              << "\n";
}

int cmd_groups_list(const Globals& g, const GroupOptions& o) {
  std::string q;
  if (!o.kind.empty()) q += "kind=" + o.kind;
  if (!o.unit.empty()) q += (q.empty() ? "" : "&") + std::string("unit=") + o.unit;
  json out;
  if (int rc = api_get(g, "/api/v1/groups" + (q.empty() ? q : "?" + q), out); rc != kOk) return rc;
  if (g.json_out) {
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : out["groups"]) {
    const bool parent = j.value("kind", "") == "parent";
    rows.push_back({std::to_string(j.value("id", 0LL)), parent ? "家长群" : "管理群", j.value("unit_code", ""),
                    j.value("name", ""), j.value("route", ""),
                    parent ? std::to_string(j.value("members", 0)) + "/" + std::to_string(j.value("hard_cap", 0)) : "",
                    parent ? state_name(j.value("state", "")) : ""});
  }
  yuer::yuerctl::print_table(std::cout, {"编号", "类型", "单位", "群名", "渠道", "人数/上限", "状态"}, rows);
  std::cout << "共 " << rows.size() << " 个群\n";
  return kOk;
}

int cmd_groups_show(const Globals& g, std::int64_t id) {
  json out;
  if (int rc = api_get(g, "/api/v1/groups/" + std::to_string(id), out); rc != kOk) return rc;
  if (g.json_out) std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  else print_group(out);
  return kOk;
}

int cmd_groups_change(const Globals& g, const GroupOptions& o, bool add) {
  const json body = group_body(o);
  if (!add && body.empty()) return die(kUsage, "groups set: give at least one field to change (see --help)");
  json out;
  const std::string path = add ? "/api/v1/groups" : "/api/v1/groups/" + std::to_string(o.id);
  if (int rc = api_send(g, add ? Verb::post : Verb::patch, path, body.dump(), out); rc != kOk) return rc;
  if (g.json_out) std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  else {
    std::cout << (add ? "已添加:\n" : "已修改:\n");
    print_group(out);
  }
  return kOk;
}

int cmd_join_ways(const Globals& g) {
  json out;
  if (int rc = api_get(g, "/api/v1/join_ways", out); rc != kOk) return rc;
  if (g.json_out) {
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : out["join_ways"]) {
    std::string chats;
    for (const auto& c : w["chat_ids"]) chats += (chats.empty() ? "" : " ") + c.get<std::string>();
    rows.push_back({w.value("unit_code", ""), w.value("qr_code", ""), chats});
  }
  yuer::yuerctl::print_table(std::cout, {"乡镇", "入群二维码", "当前可入的群"}, rows);
  return kOk;
}

// --- lessons list / show ------------------------------------------------------------

std::string joined(const json& items, const char* sep) {
  std::string out;
  for (const auto& t : items) out += (out.empty() ? "" : sep) + t.get<std::string>();
  return out;
}

std::string age_text(const json& l) {
  const auto& d = l["age_days"];
  const auto& m = l["age_months"];
  const int d0 = d.at(0).get<int>(), d1 = d.at(1).get<int>();
  if (d1 < 31) return std::to_string(d0) + "-" + std::to_string(d1) + "天";
  return std::to_string(m.at(0).get<int>()) + "-" + std::to_string(m.at(1).get<int>()) + "个月";
}

int cmd_lessons_list(const Globals& g, int age_months) {
  json out;
  std::string path = "/api/v1/lessons";
  if (age_months >= 0) path += "?age_months=" + std::to_string(age_months);
  if (int rc = api_get(g, path, out); rc != kOk) return rc;
  if (g.json_out) {
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : out["lessons"])
    rows.push_back({l.value("id", ""), age_text(l), l.value("title", ""), joined(l["topics"], "、"),
                    std::to_string(l.value("body_bytes", 0))});
  yuer::yuerctl::print_table(std::cout, {"编号", "月龄", "标题", "主题", "正文字节"}, rows);
  std::cout << "显示 " << rows.size() << " 课，课程库共 " << out.value("total", 0) << " 课\n";
  return kOk;
}

int cmd_lessons_show(const Globals& g, const std::string& id) {
  const bool plain_id = !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  if (!plain_id) return die(kUsage, "课程编号只含字母、数字、- 和 _，例如 L-06m-01");
  json out;
  if (int rc = api_get(g, "/api/v1/lessons/" + id, out); rc != kOk) return rc;
  if (g.json_out) {
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kOk;
  }
  std::cout << "编号: " << out.value("id", "") << "\n标题: " << out.value("title", "") << "\n月龄: " << age_text(out)
            << "\n主题: " << joined(out["topics"], "、") << "\n";
  if (!out.value("note", "").empty()) std::cout << "说明: " << out.value("note", "") << "\n";
  std::cout << "\n" << out.value("body", "") << "\n\n" << out.value("source_line", "") << "\n";
  for (const auto& s : out["sources"]) std::cout << "  [" << s.value("id", "") << "] " << s.value("url", "") << "\n";
  return kOk;
}

int cmd_migrate(const std::string& store_path) {
  yuer::store::Settings s;
  s.path = store_path;
  s.field_pass = false;  // schema only: sealed personal fields stay as they are (yuerd seals at start)
  auto store = yuer::store::open_sqlite_store(s);
  if (!store) return die(kRuntime, store.error().message);
  std::cout << store_path << ": schema version " << (*store)->schema_version() << " (this yuerctl knows up to "
            << yuer::store::latest_schema_version() << ")\n";
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"yuerctl — admin tool for yuerd (育儿群助手)"};
  cli.require_subcommand(1);
  Globals g;
  if (const char* f = std::getenv("YUER_ADMIN_TOKEN_FILE")) g.token_file = f;
  if (g.token_file.empty()) g.token_file = "var/secrets/admin_token";
  if (const char* u = std::getenv("YUER_URL")) g.url = u;
  cli.add_option("--url", g.url, "admin API base URL (env YUER_URL)")->capture_default_str();
  cli.add_option("--token-file", g.token_file, "file holding the admin token (env YUER_ADMIN_TOKEN_FILE)")->capture_default_str();
  cli.add_option("--tz", g.tz, "time zone for displayed times")->capture_default_str();

  auto* status = cli.add_subcommand("status", "show whether yuerd is up");
  status->add_flag("--json", g.json_out, "print JSON");

  auto* inbox = cli.add_subcommand("inbox", "inbound callbacks stored by yuerd");
  inbox->require_subcommand(1);
  InboxOptions io;
  auto* inbox_list = inbox->add_subcommand("list", "list stored callbacks, newest first");
  inbox_list->add_option("--receiver", io.receiver, "only this receiver (app, bot/<name>)");
  inbox_list->add_option("--kind", io.kind, "only this kind (text, event:change_external_chat, ...)");
  inbox_list->add_option("--limit", io.limit, "rows to show (1-1000)")->capture_default_str()->check(CLI::Range(1, 1000));
  inbox_list->add_option("--after-id", io.after_id, "rows with a larger id only")->check(CLI::NonNegativeNumber);
  inbox_list->add_flag("--oldest-first", io.oldest_first, "oldest first");
  inbox_list->add_flag("--payload", io.payload, "include the decrypted payload (personal data: handle with care)");
  inbox_list->add_flag("--json", g.json_out, "print JSON");

  PushOptions po;
  auto* push = cli.add_subcommand("push", "send a notice through the outbox (robot group, app member, app chat or kf parent)");
  auto* dest = push->add_option_group("destination", "exactly one destination");
  dest->add_option("--group", po.group, "group name with a robot key (route robot)");
  dest->add_option("--user", po.user, "member userid (route app, message/send)");
  dest->add_option("--chat", po.chat, "app chat id (route appchat)");
  dest->add_option("--kf", po.kf,
                   "OPEN_KFID/EXTERNAL_USERID: one parent through 微信客服 (route kf; waits for the parent's "
                   "48-hour window, 5 messages per parent message)");
  dest->add_option("--customer-group", po.customer_group,
                   "CHAT_ID of a parents' customer group (route group_task: merged into a mass-message task "
                   "the group owner confirms; text only)");
  dest->require_option(1);
  auto* content = push->add_option_group("content", "exactly one content file");
  content->add_option("--text", po.text_file, "UTF-8 text file (split into parts over 2048 bytes)");
  content->add_option("--markdown", po.markdown_file, "markdown file (split into parts over the route's limit)");
  content->require_option(1);
  push->add_option("--expire-hours", po.expire_hours,
                   "give up after this many hours (the row ends expired with the reason it waited)")
      ->check(CLI::Range(1, 24 * 365));
  push->add_option("--key", po.key, "idempotency key: pushing again with the same key sends nothing new");
  push->add_flag("--json", g.json_out, "print JSON");

  OutboxOptions oo;
  auto* outbox = cli.add_subcommand("outbox", "outbound messages: list, show, retry, cancel");
  outbox->require_subcommand(1);
  auto* outbox_list = outbox->add_subcommand("list", "list outbox rows, newest first");
  outbox_list->add_option("--route", oo.route, "robot, app, appchat");
  outbox_list->add_option("--target", oo.target, "group / userid / chat id");
  outbox_list->add_option("--state", oo.state, "queued, sending, sent, failed, expired, cancelled");
  outbox_list->add_option("--limit", oo.limit, "rows to show (1-1000)")->capture_default_str()->check(CLI::Range(1, 1000));
  outbox_list->add_flag("--json", g.json_out, "print JSON");
  auto* outbox_show = outbox->add_subcommand("show", "one row with its content");
  outbox_show->add_option("id", oo.id, "outbox id")->required()->check(CLI::PositiveNumber);
  outbox_show->add_flag("--json", g.json_out, "print JSON");
  auto* outbox_retry = outbox->add_subcommand("retry", "queue a failed, expired or cancelled row again (or retry a waiting one now)");
  outbox_retry->add_option("id", oo.id, "outbox id")->required()->check(CLI::PositiveNumber);
  outbox_retry->add_flag("--json", g.json_out, "print JSON");
  auto* outbox_cancel = outbox->add_subcommand("cancel", "cancel a queued row");
  outbox_cancel->add_option("id", oo.id, "outbox id")->required()->check(CLI::PositiveNumber);
  outbox_cancel->add_flag("--json", g.json_out, "print JSON");

  GroupTaskOptions go;
  auto* group_tasks = cli.add_subcommand("group-tasks", "customer-group mass-message tasks waiting for or done by owners");
  group_tasks->require_subcommand(1);
  auto* group_tasks_list = group_tasks->add_subcommand("list", "tasks, newest first (open: waiting for the owner)");
  group_tasks_list->add_option("--state", go.state, "open, creating, waiting, done, cancelled, failed");
  group_tasks_list->add_option("--owner", go.owner, "only this owner (member userid)");
  group_tasks_list->add_option("--limit", go.limit, "rows to show (1-1000)")->capture_default_str()->check(CLI::Range(1, 1000));
  group_tasks_list->add_flag("--json", g.json_out, "print JSON");

  ImportOptions imp;
  std::string org_prefix;
  auto* org = cli.add_subcommand("org", "organisation units (12-digit administrative division codes)");
  org->require_subcommand(1);
  auto* org_import = add_import(
      org, "check (dry run) or import units from a CSV file: columns 区划代码,名称 (UTF-8 or GB18030, up to 20 MB)",
      "units", imp, g);
  auto* org_list = org->add_subcommand("list", "list units by code");
  org_list->add_option("--prefix", org_prefix, "only codes starting with these digits")->check(CLI::Number);
  org_list->add_flag("--json", g.json_out, "print JSON");

  std::string roster_unit;
  int roster_limit = 100;
  auto* roster = cli.add_subcommand("roster", "the family roster (children 0-36 months and their caregivers)");
  roster->require_subcommand(1);
  auto* roster_import = add_import(
      roster, "check (dry run) or import families from a CSV file (see README: family roster CSV; up to 20 MB)",
      "families", imp, g);
  auto* roster_list = roster->add_subcommand("list", "list families (phones masked), by child id");
  roster_list->add_option("--unit", roster_unit, "only units whose code starts with these digits")->check(CLI::Number);
  roster_list->add_option("--limit", roster_limit, "rows to show (1-10000)")->capture_default_str()->check(CLI::Range(1, 10000));
  roster_list->add_flag("--json", g.json_out, "print JSON");

  GroupOptions gro;
  auto* groups = cli.add_subcommand("groups", "management groups and parent groups (家长群) under the member caps");
  groups->require_subcommand(1);
  auto group_fields = [&gro](CLI::App* c, bool add) {
    if (add) {
      c->add_option("--kind", gro.kind, "parent (家长群, a customer group) or management (管理群)")
          ->required()
          ->check(CLI::IsMember({"parent", "management"}));
      c->add_option("--unit", gro.unit, "12-digit division code (township for a parent group)")->required();
      c->add_option("--chat-id", gro.chat_id, "customer group chat id (parent) or app chat id (management, route appchat)");
    }
    c->add_option("--name", gro.name, "group name")->required(add);
    c->add_option("--route", gro.route, "group_task or robot (parent); robot or appchat (management)");
    c->add_option("--robot", gro.robot, "robot name from the robot keys file (route robot)");
    c->add_option("--owner", gro.owner, "owner's userid (the township coordinator for a parent group)");
    c->add_option("--soft-cap", gro.soft_cap, "warn at this many members (0: programme default)")->check(CLI::Range(0, 2000));
    c->add_option("--hard-cap", gro.hard_cap, "closed at this many members (0: programme default)")->check(CLI::Range(0, 2000));
  };
  auto* groups_add = groups->add_subcommand("add", "add a group");
  group_fields(groups_add, true);
  groups_add->add_flag("--json", g.json_out, "print JSON");
  auto* groups_set = groups->add_subcommand("set", "change a group's name, route, robot, owner or caps");
  groups_set->add_option("id", gro.id, "group number")->required();
  group_fields(groups_set, false);
  groups_set->add_flag("--json", g.json_out, "print JSON");
  auto* groups_list = groups->add_subcommand("list", "list groups with member counts and caps");
  groups_list->add_option("--kind", gro.kind, "parent or management")->check(CLI::IsMember({"parent", "management"}));
  groups_list->add_option("--unit", gro.unit, "only units whose code starts with these digits")->check(CLI::Number);
  groups_list->add_flag("--json", g.json_out, "print JSON");
  auto* groups_show = groups->add_subcommand("show", "one group: members, caps, roster matches, join QR");
  groups_show->add_option("id", gro.id, "group number")->required();
  groups_show->add_flag("--json", g.json_out, "print JSON");
  auto* groups_qr = groups->add_subcommand("join-ways", "each township's join QR and the groups it currently fills");
  groups_qr->add_flag("--json", g.json_out, "print JSON");

  int lessons_age = -1;
  std::string lesson_id;
  auto* lessons = cli.add_subcommand("lessons", "the lesson library (templates/lessons) yuerd loaded");
  lessons->require_subcommand(1);
  auto* lessons_list = lessons->add_subcommand("list", "list lessons by age");
  lessons_list->add_option("--age-months", lessons_age, "only lessons for this age in months (0-36)")->check(CLI::Range(0, 36));
  lessons_list->add_flag("--json", g.json_out, "print JSON");
  auto* lessons_show = lessons->add_subcommand("show", "one lesson with its body and sources");
  lessons_show->add_option("id", lesson_id, "lesson id, e.g. L-06m-01")->required();
  lessons_show->add_flag("--json", g.json_out, "print JSON");

  auto surveys = yuer::yuerctl::add_surveys_commands(cli, g.url, g.token_file, g.tz);
  auto admin_commands = yuer::yuerctl::add_admin_commands(cli, {&g.url, &g.token_file, &g.tz});

  std::string store_path;
  auto schedules = yuer::yuerctl::add_schedules_commands(
      cli, {[&g](const std::string& path, json& out) { return api_get(g, path, out); },
            [&g](const std::string& path, const std::string& body, json& out) {
              return api_send(g, Verb::post, path, body, out);
            },
            &g.tz});

  auto* migrate = cli.add_subcommand("migrate", "offline: apply pending store migrations");
  migrate->add_option("--store", store_path, "store file (yuerd must not be running)")->required();
  auto backup = yuer::yuerctl::add_backup_commands(cli);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = cli.exit(e);
    return rc == 0 ? kOk : kUsage;
  }
  if (*status) return cmd_status(g);
  if (*inbox_list) return cmd_inbox_list(g, io);
  if (*migrate) return cmd_migrate(store_path);
  if (auto rc = backup()) return *rc;
  if (*push) return cmd_push(g, po);
  if (*outbox_list) return cmd_outbox_list(g, oo);
  if (*outbox_show) return cmd_outbox_show(g, oo.id);
  if (*outbox_retry) return cmd_outbox_action(g, oo.id, "retry");
  if (*outbox_cancel) return cmd_outbox_action(g, oo.id, "cancel");
  if (*group_tasks_list) return cmd_group_tasks_list(g, go);
  if (*org_import) return cmd_import(g, "/api/v1/org/import", imp);
  if (*org_list) return cmd_org_list(g, org_prefix);
  if (*roster_import) return cmd_import(g, "/api/v1/roster/import", imp);
  if (*roster_list) return cmd_roster_list(g, roster_unit, roster_limit);
  if (*groups_add) return cmd_groups_change(g, gro, true);
  if (*groups_set) return cmd_groups_change(g, gro, false);
  if (*groups_list) return cmd_groups_list(g, gro);
  if (*groups_show) return cmd_groups_show(g, gro.id);
  if (*groups_qr) return cmd_join_ways(g);
  if (*lessons_list) return cmd_lessons_list(g, lessons_age);
  if (*lessons_show) return cmd_lessons_show(g, lesson_id);
  if (int rc = schedules(); rc >= 0) return rc;
  if (surveys->selected()) return surveys->run();
  if (auto rc = admin_commands()) return *rc;
  return die(kUsage, "unknown command");
}
