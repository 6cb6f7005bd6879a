#include "adapters/group_task/group_task_api.h"

#include <nlohmann/json.hpp>

namespace yuer::adapters::group_task {
namespace {

using model::GroupResult;
using model::OutcomeKind;
using model::SendOutcome;
using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string string_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t int_at(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return 0;
  return it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

SendOutcome malformed(const char* what) {
  return SendOutcome::retry(std::chrono::milliseconds(0), 0, std::string("企业微信应答缺少字段 ") + what + "，稍后重试");
}

class Api final : public model::GroupTaskApi {
 public:
  Api(wecom::ApiClient& api, wecom::AccessToken& token) : api_(api), token_(token) {}

  awaitable<model::GroupOwnerAnswer> owner_of(std::string chat_id) override {
    // need_name 0: yuer needs only the owner, not the parents' names (PIPL: minimal collection).
    // (GCC 12 cannot keep a braced json temporary alive across co_await: locals are built first.)
    json body{{"chat_id", chat_id}, {"need_name", 0}};
    auto r = co_await call("/cgi-bin/externalcontact/groupchat/get", std::move(body));
    model::GroupOwnerAnswer a{r.outcome, {}};
    if (a.outcome.kind != OutcomeKind::kDelivered) co_return a;
    auto g = r.body.find("group_chat");
    if (g == r.body.end() || !g->is_object() || string_at(*g, "owner").empty()) {
      a.outcome = malformed("group_chat.owner");
      co_return a;
    }
    a.owner = string_at(*g, "owner");
    co_return a;
  }

  awaitable<model::TaskCreatedAnswer> create(std::string owner, std::vector<std::string> chat_ids,
                                             std::string text) override {
    json body{{"chat_type", "group"},
              {"sender", owner},
              {"chat_id_list", chat_ids},
              {"allow_select", false},
              {"text", {{"content", text}}}};
    auto r = co_await call("/cgi-bin/externalcontact/add_msg_template", body);
    model::TaskCreatedAnswer a{r.outcome, {}};
    if (a.outcome.kind != OutcomeKind::kDelivered) co_return a;
    a.msgid = string_at(r.body, "msgid");
    if (a.msgid.empty()) a.outcome = malformed("msgid");
    co_return a;
  }

  awaitable<model::TaskStatusAnswer> status(std::string msgid, std::string owner) override {
    model::TaskStatusAnswer a;
    // get_groupmsg_task: the senders and whether each has sent (status 2) (DOC 93338).
    bool found = false;
    std::string cursor;
    do {
      json body{{"msgid", msgid}, {"limit", 1000}};
      if (!cursor.empty()) body["cursor"] = cursor;
      auto r = co_await call("/cgi-bin/externalcontact/get_groupmsg_task", body);
      if (r.outcome.kind != OutcomeKind::kDelivered) {
        a.outcome = r.outcome;
        co_return a;
      }
      for (const auto& t : r.body.value("task_list", json::array()))
        if (t.is_object() && string_at(t, "userid") == owner) {
          found = true;
          a.owner_sent = int_at(t, "status") == 2;
        }
      cursor = string_at(r.body, "next_cursor");
    } while (!cursor.empty());
    if (!found) {
      a.outcome = SendOutcome::permanent(0, "群发任务中没有该群主（群主可能已变更）");
      co_return a;
    }
    if (!a.owner_sent) co_return a;
    // get_groupmsg_send_result: per group, 0 not sent, 1 sent, 2 failed (not a member/dismissed),
    // 3 the group's receiving limit reached (DOC 93338).
    do {
      json body{{"msgid", msgid}, {"userid", owner}, {"limit", 1000}};
      if (!cursor.empty()) body["cursor"] = cursor;
      auto r = co_await call("/cgi-bin/externalcontact/get_groupmsg_send_result", body);
      if (r.outcome.kind != OutcomeKind::kDelivered) {
        a.outcome = r.outcome;
        a.groups.clear();
        co_return a;
      }
      for (const auto& s : r.body.value("send_list", json::array())) {
        if (!s.is_object()) continue;
        const std::string chat = string_at(s, "chat_id");
        if (chat.empty()) continue;
        switch (int_at(s, "status")) {
          case 1:
            a.groups[chat] = GroupResult::kSent;
            break;
          case 2:
            a.groups[chat] = GroupResult::kFailed;
            break;
          case 3:
            a.groups[chat] = GroupResult::kOverQuota;
            break;
          default:
            a.groups[chat] = GroupResult::kPending;
        }
      }
      cursor = string_at(r.body, "next_cursor");
    } while (!cursor.empty());
    co_return a;
  }

  awaitable<SendOutcome> remind(std::string msgid) override {
    json body{{"msgid", msgid}};
    co_return (co_await call("/cgi-bin/externalcontact/remind_groupmsg_send", std::move(body))).outcome;
  }

  awaitable<SendOutcome> cancel(std::string msgid) override {
    json body{{"msgid", msgid}};
    co_return (co_await call("/cgi-bin/externalcontact/cancel_groupmsg_send", std::move(body))).outcome;
  }

  awaitable<model::CreatedTasksAnswer> created_between(std::int64_t start_s, std::int64_t end_s) override {
    model::CreatedTasksAnswer a;
    std::string cursor;
    do {
      // filter_type 0: tasks the corp created (API tasks are 企业发表), the range ≤ 1 month (DOC 93338).
      json body{{"chat_type", "group"}, {"start_time", start_s}, {"end_time", end_s}, {"filter_type", 0}, {"limit", 100}};
      if (!cursor.empty()) body["cursor"] = cursor;
      auto r = co_await call("/cgi-bin/externalcontact/get_groupmsg_list_v2", body);
      a.outcome = r.outcome;
      if (r.outcome.kind != OutcomeKind::kDelivered) {
        a.tasks.clear();
        co_return a;
      }
      for (const auto& m : r.body.value("group_msg_list", json::array())) {
        if (!m.is_object()) continue;
        model::CreatedTask t;
        t.msgid = string_at(m, "msgid");
        auto text = m.find("text");
        if (text != m.end() && text->is_object()) t.text = string_at(*text, "content");
        if (!t.msgid.empty()) a.tasks.push_back(std::move(t));
      }
      cursor = string_at(r.body, "next_cursor");
    } while (!cursor.empty());
    co_return a;
  }

 private:
  awaitable<wecom::Reply> call(std::string path, json body) {
    co_return co_await api_.post_with_token(token_, std::move(path), dump(body));
  }

  wecom::ApiClient& api_;
  wecom::AccessToken& token_;
};

}  // namespace

std::unique_ptr<model::GroupTaskApi> make_api(wecom::ApiClient& api, wecom::AccessToken& token) {
  return std::make_unique<Api>(api, token);
}

}  // namespace yuer::adapters::group_task
