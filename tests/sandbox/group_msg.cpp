#include "tests/sandbox/group_msg.h"

#include "adapters/wecom/crypto.h"
#include "tests/sandbox/customer_groups.h"

#include <algorithm>
#include <chrono>
#include <set>

namespace yuer::sandbox {

using nlohmann::json;
namespace chr = std::chrono;

namespace {

const std::string kExternal = "/cgi-bin/externalcontact/";
constexpr std::int64_t kDayMs = 86'400'000;
constexpr int kRemindsPerDay = 3;          // "24小时内每个群发最多触发三次提醒" (DOC 97610)
constexpr std::int64_t kMaxRangeS = 31 * 86'400;  // "起止时间间隔不能超过1个月" (DOC 93338): 31 days

chr::year_month_day shanghai_date(std::int64_t unix_s) {
  // Asia/Shanghai is UTC+8 all year (no DST since 1991): the month boundary is 16:00 UTC.
  std::int64_t local = unix_s + 8 * 3600;
  std::int64_t days = local >= 0 ? local / 86'400 : (local - 86'399) / 86'400;
  return chr::year_month_day{chr::sys_days{chr::days{days}}};
}

std::string encode_cursor(const std::string& kind, std::size_t offset) {
  return adapters::wecom::base64_encode(kind + ":" + std::to_string(offset));
}

// nullopt = invalid cursor; 0 for an absent or empty one.
std::optional<std::size_t> read_cursor(const json& body, const std::string& kind) {
  auto c = string_field(body, "cursor");
  if (!c || c->empty()) return 0;
  auto raw = adapters::wecom::base64_decode(*c);
  if (!raw || raw->rfind(kind + ":", 0) != 0) return std::nullopt;
  std::string digits = raw->substr(kind.size() + 1);
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return static_cast<std::size_t>(std::stoul(digits));
}

// limit with WeCom's rule "超过最大值时取默认值" (over the maximum → the default).
std::size_t read_limit(const json& body, std::int64_t dflt, std::int64_t max) {
  auto l = int_field(body, "limit").value_or(dflt);
  if (l < 1 || l > max) l = dflt;
  return static_cast<std::size_t>(l);
}

// A validation failure of add_msg_template.
struct Reject {
  int errcode;
  std::string detail;
};

// text.content ≤ 4000 bytes; ≤ 9 attachments of image, link, miniprogram, video, file; link title
// ≤ 128 B, desc ≤ 512 B, url ≤ 2048 B; miniprogram title ≤ 64 B (reference §8.6, DOC 92135). Over-long
// fields → 45002 ("content size out of limit", §11/§13.2) [UNCERTAIN: no capture for this API].
// Every media_id (image, video, file; a miniprogram's pic_media_id) must be a temporary media of
// the corp from media/upload, not expired (3 days) and not a robot's upload (§5.3): else 40007
// "不合法的media_id参数", the global code for an invalid media_id (DOC 90313,
// https://developer.work.weixin.qq.com/document/path/90313; reference §11 lists 40004–40011 as media
// problems). Which code add_msg_template itself uses is not captured [UNCERTAIN].
std::optional<Reject> check_content(const Context& ctx, const json& body, bool& has_content) {
  has_content = false;
  if (body.contains("text")) {
    if (!body["text"].is_object()) return Reject{40058, "text invalid. invalid Request Parameter"};
    auto content = string_field(body["text"], "content").value_or("");
    if (content.size() > 4000) return Reject{45002, "text.content exceed max length 4000"};
    has_content = !content.empty();
  }
  if (!body.contains("attachments")) return std::nullopt;
  const auto& atts = body["attachments"];
  if (!atts.is_array()) return Reject{40058, "attachments invalid. invalid Request Parameter"};
  // ≤ 9 attachments [UNCERTAIN errcode: 40058].
  if (atts.size() > 9) return Reject{40058, "attachments exceed max count 9. invalid Request Parameter"};
  static const std::set<std::string> types = {"image", "link", "miniprogram", "video", "file"};
  for (const auto& a : atts) {
    auto type = a.is_object() ? string_field(a, "msgtype").value_or("") : "";
    if (!types.count(type)) return Reject{41065, "invalid attachment type"};  // 无效的附件类型 (DOC 90313)
    if (!a.contains(type) || !a[type].is_object())
      return Reject{40058, type + " missing. invalid Request Parameter"};
    const json& m = a[type];
    auto field = [&](const char* k) { return string_field(m, k).value_or(""); };
    auto usable = [&](const char* k) { return ctx.media_usable(field(k), "corp"); };
    if (type == "image") {
      if (field("media_id").empty() && field("pic_url").empty()) return Reject{41006, "media_id missing"};
      if (!field("media_id").empty() && !usable("media_id")) return Reject{40007, "invalid media_id"};
    } else if (type == "link") {
      if (field("title").empty()) return Reject{41016, "title missing"};
      if (field("url").empty()) return Reject{41010, "url missing"};
      if (field("title").size() > 128) return Reject{45002, "link.title exceed max length 128"};
      if (field("desc").size() > 512) return Reject{45002, "link.desc exceed max length 512"};
      if (field("url").size() > 2048) return Reject{45002, "link.url exceed max length 2048"};
    } else if (type == "miniprogram") {
      for (const char* k : {"title", "pic_media_id", "appid", "page"})
        if (field(k).empty()) return Reject{40058, std::string("miniprogram.") + k + " missing. invalid Request Parameter"};
      if (field("title").size() > 64) return Reject{45002, "miniprogram.title exceed max length 64"};
      if (!usable("pic_media_id")) return Reject{40007, "invalid media_id"};
    } else if (field("media_id").empty()) {  // video, file
      return Reject{41006, "media_id missing"};
    } else if (!usable("media_id")) {
      return Reject{40007, "invalid media_id"};
    }
    has_content = true;
  }
  return std::nullopt;
}

std::string target_key(const GroupMsgTarget& t) {
  return t.chat_id.empty() ? "user:" + t.external_userid : "chat:" + t.chat_id;
}

json task_state(const GroupMsgTask& t, const Fixture& f) {
  json senders = json::array();
  for (const auto& s : t.senders) {
    json targets = json::array();
    for (const auto& x : s.targets) {
      json j = {{"status", x.status}, {"send_time", x.send_time}};
      if (!x.chat_id.empty()) {
        j["chat_id"] = x.chat_id;
        const CustomerGroup* g = f.customer_group(x.chat_id);
        j["name"] = g ? g->name : "";
      } else {
        j["external_userid"] = x.external_userid;
        const ExternalContact* c = f.external_contact(x.external_userid);
        j["name"] = c ? c->name : "";
      }
      targets.push_back(std::move(j));
    }
    senders.push_back({{"userid", s.userid}, {"state", s.state}, {"send_time", s.send_time}, {"targets", targets}});
  }
  return {{"msgid", t.msgid},
          {"agent_id", t.agent_id},
          {"chat_type", t.chat_type},
          {"create_time", t.create_time},
          {"text", t.text},
          {"attachments", t.attachments},
          {"cancelled", t.cancelled},
          {"reminds_total", t.reminds_total},
          {"senders", senders}};
}

}  // namespace

int shanghai_month(std::int64_t unix_s) {
  auto d = shanghai_date(unix_s);
  return static_cast<int>(d.year()) * 12 + static_cast<int>(static_cast<unsigned>(d.month())) - 1;
}

int days_in_shanghai_month(std::int64_t unix_s) {
  auto d = shanghai_date(unix_s);
  return static_cast<int>(static_cast<unsigned>(chr::year_month_day_last{d.year() / d.month() / chr::last}.day()));
}

GroupMsgModule::GroupMsgModule(Context& ctx) : ctx_(ctx) {
  const json& raw = ctx.fixture.raw;
  if (raw.is_object() && raw.contains("group_msg") && raw["group_msg"].is_object())
    dispatch_delay_s_ = std::max<std::int64_t>(0, int_field(raw["group_msg"], "dispatch_delay_s").value_or(0));
}

void GroupMsgModule::reset() {
  tasks_.clear();
  received_.clear();
}

json GroupMsgModule::state() const {
  json tasks = json::array();
  int pending = 0;
  for (const auto& t : tasks_) {
    tasks.push_back(task_state(t, ctx_.fixture));
    for (const auto& s : t.senders) pending += s.state == "pending" && !t.cancelled;
  }
  const std::int64_t now = ctx_.now_s();
  const int month = shanghai_month(now);
  json received = json::array();
  for (const auto& [key, months] : received_) {
    auto it = months.find(month);
    if (it != months.end()) received.push_back({{"target", key}, {"count", it->second}});
  }
  return {{"group_msg",
           {{"tasks", tasks},
            {"pending_senders", pending},
            {"month", month},
            {"monthly_cap", days_in_shanghai_month(now)},
            {"received_this_month", received}}}};
}

json GroupMsgModule::save() const {
  json tasks = json::array();
  for (const auto& t : tasks_) {
    json senders = json::array();
    for (const auto& s : t.senders) {
      json targets = json::array();
      for (const auto& x : s.targets)
        targets.push_back({{"chat_id", x.chat_id}, {"external_userid", x.external_userid}, {"status", x.status},
                           {"send_time", x.send_time}});
      senders.push_back({{"userid", s.userid}, {"state", s.state}, {"send_time", s.send_time}, {"targets", targets}});
    }
    tasks.push_back({{"msgid", t.msgid},
                     {"agent_id", t.agent_id},
                     {"chat_type", t.chat_type},
                     {"create_time", t.create_time},
                     {"text", t.text},
                     {"attachments", t.attachments},
                     {"senders", senders},
                     {"cancelled", t.cancelled},
                     {"reminds_ms", t.reminds_ms},
                     {"reminds_total", t.reminds_total}});
  }
  json received = json::array();
  for (const auto& [key, months] : received_)
    for (const auto& [month, count] : months) received.push_back({{"target", key}, {"month", month}, {"count", count}});
  return {{"tasks", tasks}, {"received", received}};
}

void GroupMsgModule::restore(const json& saved) {
  for (const auto& j : array_field(saved, "tasks")) {
    GroupMsgTask t;
    t.msgid = string_field(j, "msgid").value_or("");
    if (t.msgid.empty()) continue;
    t.agent_id = int_field(j, "agent_id").value_or(0);
    t.chat_type = string_field(j, "chat_type").value_or("single");
    t.create_time = int_field(j, "create_time").value_or(0);
    t.text = j.contains("text") && j["text"].is_object() ? j["text"] : json();
    t.attachments = array_field(j, "attachments");
    for (const auto& sj : array_field(j, "senders")) {
      GroupMsgSender s;
      s.userid = string_field(sj, "userid").value_or("");
      s.state = string_field(sj, "state").value_or("pending");
      s.send_time = int_field(sj, "send_time").value_or(0);
      for (const auto& xj : array_field(sj, "targets"))
        s.targets.push_back(GroupMsgTarget{string_field(xj, "chat_id").value_or(""),
                                           string_field(xj, "external_userid").value_or(""),
                                           static_cast<int>(int_field(xj, "status").value_or(0)),
                                           int_field(xj, "send_time").value_or(0)});
      if (!s.userid.empty()) t.senders.push_back(std::move(s));
    }
    t.cancelled = bool_field(j, "cancelled").value_or(false);
    for (const auto& r : array_field(j, "reminds_ms"))
      if (r.is_number_integer()) t.reminds_ms.push_back(r.get<std::int64_t>());
    t.reminds_total = static_cast<int>(int_field(j, "reminds_total").value_or(0));
    tasks_.push_back(std::move(t));
  }
  for (const auto& r : array_field(saved, "received")) {
    auto key = string_field(r, "target");
    auto month = int_field(r, "month");
    auto count = int_field(r, "count");
    if (key && month && count) received_[*key][static_cast<int>(*month)] = static_cast<int>(*count);
  }
}

std::optional<ApiReply> GroupMsgModule::api(const ApiRequest& req, const Target& t, RequestRecord& rec) {
  if (t.path.rfind(kExternal, 0) != 0) return std::nullopt;
  const std::string name = t.path.substr(kExternal.size());
  static const std::set<std::string> known = {"add_msg_template",    "remind_groupmsg_send", "cancel_groupmsg_send",
                                              "get_groupmsg_list_v2", "get_groupmsg_task",   "get_groupmsg_send_result"};
  if (!known.count(name)) return std::nullopt;
  auto begun = begin_externalcontact_call(ctx_, req, t);
  if (auto* r = std::get_if<ApiReply>(&begun)) return *r;
  auto& call = std::get<ExternalContactCall>(begun);
  if (name == "add_msg_template") return add_msg_template(*call.app, call.body, rec);
  if (name == "remind_groupmsg_send") return remind(call.body);
  if (name == "cancel_groupmsg_send") return cancel(call.body);
  if (name == "get_groupmsg_list_v2") return list_v2(call.body);
  if (name == "get_groupmsg_task") return get_task(call.body);
  return send_result(call.body);
}

ApiReply GroupMsgModule::add_msg_template(const App& app, const json& body, RequestRecord& rec) {
  std::string chat_type = string_field(body, "chat_type").value_or("single");
  if (chat_type != "single" && chat_type != "group")
    return ctx_.error(40058, "chat_type invalid. invalid Request Parameter");
  bool has_content = false;
  if (auto bad = check_content(ctx_, body, has_content)) return ctx_.error(bad->errcode, bad->detail);
  // Neither text nor attachments [UNCERTAIN errcode: 44004 empty content].
  if (!has_content) return ctx_.error(44004, "text.content and attachments are empty");
  std::string sender = string_field(body, "sender").value_or("");
  if (!sender.empty()) {
    if (!ctx_.fixture.member(sender)) return ctx_.error(40003, "invalid userid");
    if (!visible_to(app, sender)) return ctx_.error(60011, "no privilege to access/modify contact/party/agent");
  }

  GroupMsgTask task;
  task.agent_id = app.agent_id;
  task.chat_type = chat_type;
  task.create_time = ctx_.now_s();
  task.text = body.contains("text") ? body["text"] : json();
  task.attachments = body.contains("attachments") ? body["attachments"] : json::array();
  json fail_list = json::array();
  std::map<std::string, std::vector<GroupMsgTarget>> by_sender;

  if (chat_type == "group") {
    // "sender: 当类型为发送给客户群时必填" [UNCERTAIN errcode: 40058].
    if (sender.empty()) return ctx_.error(40058, "sender required for chat_type group. invalid Request Parameter");
    if (body.contains("chat_id_list")) {
      const auto& ids = body["chat_id_list"];
      if (!ids.is_array()) return ctx_.error(40058, "chat_id_list invalid. invalid Request Parameter");
      if (ids.size() > 2000) return ctx_.error(40058, "chat_id_list exceed max count 2000. invalid Request Parameter");
      std::set<std::string> seen;
      for (const auto& id : ids) {
        std::string c = id.is_string() ? id.get<std::string>() : "";
        if (!seen.insert(c).second) continue;
        const CustomerGroup* g = ctx_.fixture.customer_group(c);
        // Groups the sender does not own cannot be sent to: listed in fail_list [UNCERTAIN: the
        // page documents fail_list for customers; the same is assumed for groups].
        if (!g || g->owner != sender) {
          fail_list.push_back(c);
          continue;
        }
        by_sender[sender].push_back(GroupMsgTarget{c, "", 0, 0});
      }
    } else {
      // Without chat_id_list the owner picks among their groups in the client; the sandbox takes all.
      for (const auto& g : ctx_.fixture.customer_groups)
        if (g.owner == sender) by_sender[sender].push_back(GroupMsgTarget{g.chat_id, "", 0, 0});
    }
  } else {
    std::vector<std::string> ids;
    if (body.contains("external_userid")) {
      const auto& list = body["external_userid"];
      if (!list.is_array()) return ctx_.error(40058, "external_userid invalid. invalid Request Parameter");
      if (list.size() > 10000) return ctx_.error(40058, "external_userid exceed max count 10000. invalid Request Parameter");
      for (const auto& id : list) ids.push_back(id.is_string() ? id.get<std::string>() : "");
    }
    // "external_userid … 不可与sender同时为空" [UNCERTAIN errcode: 40058].
    if (ids.empty() && sender.empty())
      return ctx_.error(40058, "external_userid and sender cannot both be empty. invalid Request Parameter");
    if (ids.empty()) {
      for (const auto& c : ctx_.fixture.external_contacts)
        if (std::find(c.follow_users.begin(), c.follow_users.end(), sender) != c.follow_users.end())
          by_sender[sender].push_back(GroupMsgTarget{"", c.external_userid, 0, 0});
    } else {
      std::set<std::string> seen;
      for (const auto& id : ids) {
        if (!seen.insert(id).second) continue;
        const ExternalContact* c = ctx_.fixture.external_contact(id);
        const bool follows = c && (sender.empty() || std::find(c->follow_users.begin(), c->follow_users.end(),
                                                                sender) != c->follow_users.end());
        if (!c || !follows || c->follow_users.empty()) {
          fail_list.push_back(id);
          continue;
        }
        // Without a sender each customer goes to the member who added them first [UNCERTAIN].
        by_sender[sender.empty() ? c->follow_users.front() : sender].push_back(GroupMsgTarget{"", id, 0, 0});
      }
    }
  }
  if (by_sender.empty()) return ctx_.error(41048, "no valid external user");  // 无可发送的客户 (§8.6)
  for (auto& [userid, targets] : by_sender) {
    GroupMsgSender s;
    s.userid = userid;
    s.targets = std::move(targets);
    task.senders.push_back(std::move(s));
  }
  task.msgid = "msg" + random_alnum(25);  // like "msgGCAAAXtWyujaWJHDDGi0mAAAA"
  rec.detail = {{"msgid", task.msgid}, {"chat_type", chat_type}, {"senders", by_sender.size()}};
  std::string msgid = task.msgid;
  tasks_.push_back(std::move(task));
  return wecom_ok({{"fail_list", fail_list}, {"msgid", msgid}});
}

GroupMsgTask* GroupMsgModule::find_task(const json& body, ApiReply& error) {
  auto msgid = string_field(body, "msgid").value_or("");
  if (msgid.empty()) {
    error = ctx_.error(41046, "msgid missing");  // 缺少企业群发消息id
    return nullptr;
  }
  for (auto& t : tasks_)
    if (t.msgid == msgid) return &t;
  error = ctx_.error(41047, "invalid msgid");  // 无效的企业群发消息id
  return nullptr;
}

bool GroupMsgModule::dispatching(const GroupMsgTask& task) const {
  return ctx_.now_s() < task.create_time + dispatch_delay_s_;
}

ApiReply GroupMsgModule::remind(const json& body) {
  ApiReply error;
  GroupMsgTask* task = find_task(body, error);
  if (!task) return error;
  if (task->cancelled) return ctx_.error(41093, "msg has been cancelled");  // §8.6
  // At most 3 reminders per task in any 24 h (rolling window) → 41094 (§8.6, §11).
  if (!Context::admit(task->reminds_ms, kRemindsPerDay, kDayMs, ctx_.now_ms()))
    return ctx_.error(41094, "remind too frequently");
  ++task->reminds_total;
  return wecom_ok();
}

ApiReply GroupMsgModule::cancel(const json& body) {
  ApiReply error;
  GroupMsgTask* task = find_task(body, error);
  if (!task) return error;
  if (task->cancelled) return ctx_.error(41093, "msg has been cancelled");
  // Stops what is not sent yet; what was sent stays ("无法撤回已经群发给客户的消息", DOC 97611). A task
  // whose senders all sent is left as it is and the call still succeeds [UNCERTAIN].
  bool any = false;
  for (auto& s : task->senders)
    if (s.state == "pending" || s.state == "ignored") {
      s.state = "cancelled";
      any = true;
    }
  if (any) task->cancelled = true;
  return wecom_ok();
}

ApiReply GroupMsgModule::list_v2(const json& body) {
  std::string chat_type = string_field(body, "chat_type").value_or("single");
  if (chat_type != "single" && chat_type != "group")
    return ctx_.error(40058, "chat_type invalid. invalid Request Parameter");
  auto start = int_field(body, "start_time");
  auto end = int_field(body, "end_time");
  if (!start || !end) return ctx_.error(40058, "start_time and end_time required. invalid Request Parameter");
  // "群发任务记录的起止时间间隔不能超过1个月" [UNCERTAIN errcode 40058; 1 month taken as 31 days].
  if (*end < *start || *end - *start > kMaxRangeS)
    return ctx_.error(40058, "time range invalid or over 1 month. invalid Request Parameter");
  auto filter_type = int_field(body, "filter_type").value_or(2);
  auto creator = string_field(body, "creator").value_or("");
  auto offset = read_cursor(body, "groupmsg");
  if (!offset) return ctx_.error(50100, "invalid cursor");
  const std::size_t limit = read_limit(body, 50, 100);  // max 100, default 50 (DOC 93338)
  std::vector<const GroupMsgTask*> hits;
  for (const auto& t : tasks_) {
    if (t.chat_type != chat_type || t.create_time < *start || t.create_time > *end) continue;
    // Tasks from add_msg_template are 企业发表 (create_type 0) and have no creator ("API接口创建的群发
    // 消息不返回该字段"), so a creator filter or filter_type 1 (个人发表) never matches them.
    if (filter_type == 1 || !creator.empty()) continue;
    hits.push_back(&t);
  }
  json list = json::array();
  const std::size_t stop = std::min(hits.size(), *offset + limit);
  for (std::size_t i = *offset; i < stop; ++i) {
    const GroupMsgTask& t = *hits[i];
    // create_time as a string, as the generated client of DOC 93338 types it [UNCERTAIN].
    json j = {{"msgid", t.msgid}, {"create_type", 0}, {"create_time", std::to_string(t.create_time)}};
    if (t.text.is_object()) j["text"] = t.text;
    j["attachments"] = t.attachments;
    list.push_back(std::move(j));
  }
  return wecom_ok({{"group_msg_list", list}, {"next_cursor", stop < hits.size() ? encode_cursor("groupmsg", stop) : ""}});
}

ApiReply GroupMsgModule::get_task(const json& body) {
  ApiReply error;
  GroupMsgTask* task = find_task(body, error);
  if (!task) return error;
  if (dispatching(*task)) return ctx_.error(41063, "msg is being dispatched, try later");  // §8.6
  auto offset = read_cursor(body, "grouptask");
  if (!offset) return ctx_.error(50100, "invalid cursor");
  const std::size_t limit = read_limit(body, 500, 1000);  // max 1000, default 500 (DOC 93338)
  json list = json::array();
  const std::size_t stop = std::min(task->senders.size(), *offset + limit);
  for (std::size_t i = *offset; i < stop; ++i) {
    const auto& s = task->senders[i];
    // 0 unsent, 2 sent; send_time only once sent. Ignored and cancelled tasks stay 0.
    json j = {{"userid", s.userid}, {"status", s.state == "sent" ? 2 : 0}};
    if (s.state == "sent") j["send_time"] = s.send_time;
    list.push_back(std::move(j));
  }
  return wecom_ok({{"task_list", list},
                   {"next_cursor", stop < task->senders.size() ? encode_cursor("grouptask", stop) : ""}});
}

ApiReply GroupMsgModule::send_result(const json& body) {
  ApiReply error;
  GroupMsgTask* task = find_task(body, error);
  if (!task) return error;
  auto userid = string_field(body, "userid").value_or("");
  if (userid.empty()) return ctx_.error(41009, "userid missing");  // 缺少userid参数
  if (dispatching(*task)) return ctx_.error(41063, "msg is being dispatched, try later");
  auto offset = read_cursor(body, "groupresult");
  if (!offset) return ctx_.error(50100, "invalid cursor");
  const std::size_t limit = read_limit(body, 500, 1000);
  static const std::vector<GroupMsgTarget> none;
  const std::vector<GroupMsgTarget>* targets = &none;
  for (const auto& s : task->senders)
    if (s.userid == userid) targets = &s.targets;
  json list = json::array();
  const std::size_t stop = std::min(targets->size(), *offset + limit);
  for (std::size_t i = *offset; i < stop; ++i) {
    const auto& x = (*targets)[i];
    json j;
    if (!x.chat_id.empty()) j["chat_id"] = x.chat_id;
    else j["external_userid"] = x.external_userid;
    j["userid"] = userid;
    j["status"] = x.status;
    if (x.status == 1) j["send_time"] = x.send_time;  // "发送状态为1时返回"
    list.push_back(std::move(j));
  }
  return wecom_ok({{"send_list", list},
                   {"next_cursor", stop < targets->size() ? encode_cursor("groupresult", stop) : ""}});
}

void GroupMsgModule::deliver(const GroupMsgTask& task, GroupMsgSender& sender) {
  const std::int64_t now = ctx_.now_s();
  const int month = shanghai_month(now);
  const int cap = days_in_shanghai_month(now);  // the default rule "每月最多接收天数条" (§8.6)
  std::string content = task.text.is_object() ? string_field(task.text, "content").value_or("") : "";
  std::string msgtype = !content.empty() || task.attachments.empty()
                            ? "text"
                            : task.attachments[0].value("msgtype", std::string("text"));
  for (auto& x : sender.targets) {
    if (!x.chat_id.empty()) {
      const CustomerGroup* g = ctx_.fixture.customer_group(x.chat_id);
      // A group dismissed (or handed to another owner) since the task was created gets nothing.
      if (!g || g->owner != sender.userid) continue;
    } else {
      const ExternalContact* c = ctx_.fixture.external_contact(x.external_userid);
      if (!c || std::find(c->follow_users.begin(), c->follow_users.end(), sender.userid) == c->follow_users.end()) {
        x.status = 2;  // the customer deleted the member: 因客户不是好友导致发送失败
        continue;
      }
    }
    int& count = received_[target_key(x)][month];
    Delivery d;
    d.channel = "groupmsg";
    d.chat_id = x.chat_id;
    d.userid = x.external_userid;
    d.msgtype = msgtype;
    d.message = {{"content", content}, {"attachments", task.attachments}, {"msgid", task.msgid}};
    d.from = sender.userid;
    if (count >= cap) {
      // Over the monthly cap: WeCom skips the target silently; the result says status 3.
      x.status = 3;
      d.dropped = true;
    } else {
      ++count;
      x.status = 1;
      x.send_time = now;
    }
    ctx_.add_delivery(std::move(d));
  }
  sender.state = "sent";
  sender.send_time = now;
}

ApiReply GroupMsgModule::control_confirm(const json& body, bool confirm) {
  auto msgid = string_field(body, "msgid").value_or("");
  GroupMsgTask* task = nullptr;
  for (auto& t : tasks_)
    if (t.msgid == msgid) task = &t;
  if (!task) return control_error(404, "sandbox.unknown_msgid", "no such mass-message task");
  if (task->cancelled) return control_error(409, "sandbox.cancelled", "the task was cancelled");
  auto who = string_field(body, "sender");
  std::vector<GroupMsgSender*> chosen;
  for (auto& s : task->senders) {
    if (who && s.userid != *who) continue;
    if (s.state != "pending") {
      if (who) return control_error(409, "sandbox.not_pending", "this sender's task is " + s.state);
      continue;
    }
    chosen.push_back(&s);
  }
  if (chosen.empty())
    return control_error(who ? 404 : 409, who ? "sandbox.unknown_sender" : "sandbox.not_pending",
                         who ? "not a sender of this task" : "no pending sender");
  json out = json::array();
  for (GroupMsgSender* s : chosen) {
    if (confirm) deliver(*task, *s);
    else s->state = "ignored";
    out.push_back(s->userid);
  }
  return control_json({{"msgid", task->msgid}, {confirm ? "confirmed" : "ignored", out},
                       {"task", task_state(*task, ctx_.fixture)}});
}

std::optional<ApiReply> GroupMsgModule::control(const ApiRequest& req, const Target& t, const json& body) {
  const std::string& p = t.path;
  if (p.rfind("/_sandbox/group_msg", 0) != 0) return std::nullopt;
  if (req.method == "GET" && (p == "/_sandbox/group_msg" || p == "/_sandbox/group_msg/")) return control_json(state());
  if (req.method != "POST") return std::nullopt;
  if (p == "/_sandbox/group_msg/confirm") return control_confirm(body, true);
  if (p == "/_sandbox/group_msg/ignore") return control_confirm(body, false);
  return std::nullopt;
}

std::unique_ptr<Module> make_group_msg_module(Context& ctx) { return std::make_unique<GroupMsgModule>(ctx); }

}  // namespace yuer::sandbox
