// Customer mass messages (企业群发, reference §8.6, DOC 92135 / 93338 / 97610 / 97611):
// add_msg_template only creates a task; nothing reaches a group until its owner confirms it (the
// web page's button or POST /_sandbox/group_msg/confirm). Confirmed messages become deliveries
// with channel "groupmsg", subject to the per-target monthly cap (as many per calendar month, in
// Asia/Shanghai, as the month has days); a target over the cap is skipped silently and marked
// status 3 in get_groupmsg_send_result, as WeCom marks it.
#pragma once

#include "tests/sandbox/module.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace yuer::sandbox {

// One customer group (chat_type group) or one customer (single) of a sender's task.
struct GroupMsgTarget {
  std::string chat_id;          // group tasks
  std::string external_userid;  // single tasks
  // 0 unsent, 1 sent, 2 not a friend (customer deleted the member), 3 over the receiving cap
  // ("因客户已经收到其他群发消息导致发送失败", DOC 93338).
  int status = 0;
  std::int64_t send_time = 0;
};

// The part of a task one member must send (get_groupmsg_task: status 0 unsent / 2 sent).
struct GroupMsgSender {
  std::string userid;
  std::string state = "pending";  // sandbox view: pending | sent | ignored | cancelled
  std::int64_t send_time = 0;
  std::vector<GroupMsgTarget> targets;
};

struct GroupMsgTask {
  std::string msgid;
  std::int64_t agent_id = 0;
  std::string chat_type;  // "single" | "group"
  std::int64_t create_time = 0;
  nlohmann::json text;         // {"content": …} or null
  nlohmann::json attachments;  // array as received
  std::vector<GroupMsgSender> senders;
  bool cancelled = false;
  std::deque<std::int64_t> reminds_ms;  // remind_groupmsg_send calls in the last 24 h
  int reminds_total = 0;
};

// Calendar month of unix time `unix_s` in Asia/Shanghai (UTC+8, no DST) as year*12 + month-1, and
// the number of days in that month (the default receiving cap, reference §8.6).
int shanghai_month(std::int64_t unix_s);
int days_in_shanghai_month(std::int64_t unix_s);

class GroupMsgModule final : public Module {
 public:
  // Reads the optional fixture section "group_msg": {"dispatch_delay_s": N} (see the README).
  explicit GroupMsgModule(Context& ctx);

  std::optional<ApiReply> api(const ApiRequest& req, const Target& t, RequestRecord& rec) override;
  std::optional<ApiReply> control(const ApiRequest& req, const Target& t, const nlohmann::json& body) override;
  void reset() override;
  nlohmann::json state() const override;
  // --state FILE: every task (senders, targets, statuses, reminders) and the monthly counts.
  std::string_view name() const override { return "group_msg"; }
  nlohmann::json save() const override;
  void restore(const nlohmann::json& saved) override;

 private:
  ApiReply add_msg_template(const App& app, const nlohmann::json& body, RequestRecord& rec);
  ApiReply remind(const nlohmann::json& body);
  ApiReply cancel(const nlohmann::json& body);
  ApiReply list_v2(const nlohmann::json& body);
  ApiReply get_task(const nlohmann::json& body);
  ApiReply send_result(const nlohmann::json& body);
  // The task named by body.msgid, or the error (41046 missing, 41047 unknown).
  GroupMsgTask* find_task(const nlohmann::json& body, ApiReply& error);
  // 41063 while the task is still "being dispatched" (dispatch_delay_s after creation).
  bool dispatching(const GroupMsgTask& task) const;

  ApiReply control_confirm(const nlohmann::json& body, bool confirm);
  void deliver(const GroupMsgTask& task, GroupMsgSender& sender);

  Context& ctx_;
  std::int64_t dispatch_delay_s_ = 0;
  std::vector<GroupMsgTask> tasks_;
  // "chat:<chat_id>" / "user:<external_userid>" → shanghai_month → mass messages received.
  std::map<std::string, std::map<int, int>> received_;
};

// For modules.cpp.
std::unique_ptr<Module> make_group_msg_module(Context& ctx);

}  // namespace yuer::sandbox
