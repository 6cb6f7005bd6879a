// Customer groups (客户群, reference §8.1–8.5): groupchat/list and groupchat/get over the fixture's
// customer groups, 「加入群聊」 join ways (add/get/update/del_join_way) with overflow to the next chat
// and auto-created rooms, the member cap, and change_external_chat events (§8.3) toward the apps
// with customer-contact permission whenever the control API makes parents join or leave.
// Invariant: no group holds more members than Fixture::member_cap(group).
#pragma once

#include "tests/sandbox/module.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace yuer::sandbox {

// The checked start of every externalcontact/* call: POST (else 43002), a valid token (41001 /
// 40014 / 42001) of an app listed in customer_contact_agent_ids (else 48002, §11), a non-empty
// (44002) JSON object body (40058). Shared by the customer-group and mass-message modules.
struct ExternalContactCall {
  const App* app = nullptr;
  nlohmann::json body;
};
std::variant<ExternalContactCall, ApiReply> begin_externalcontact_call(const Context& ctx, const ApiRequest& req,
                                                                       const Target& t);

// True when `userid` is in `app`'s visibility (empty visible_userids = everyone).
bool visible_to(const App& app, std::string_view userid);

// The member-list version of a group (32 hex digits like WeCom's CurMemVer): changes whenever the
// member list changes.
std::string member_version(const CustomerGroup& g);

// One change_external_chat event (DOC 92130, reference §8.3).
struct ChatChangeEvent {
  std::string chat_id;
  std::string change_type;    // "create" | "update" | "dismiss"
  std::string update_detail;  // update only: add_member, del_member, change_owner, change_name, change_notice
  int join_scene = -1;        // add_member: 0 invited by a member (directly or by link), 3 scanned the QR
  int quit_scene = -1;        // del_member: 0 left, 1 removed by the owner or an admin
  std::vector<std::string> changed;  // userids joining or leaving (MemChangeCnt, MemChangeList)
  std::string last_mem_ver, cur_mem_ver;
};
// Its decrypted XML: ToUserName (corp id), FromUserName "sys", CreateTime, MsgType event, Event,
// ChatId, ChangeType, then for updates UpdateDetail and, for member changes, JoinScene or QuitScene,
// MemChangeCnt, MemChangeList/Item, LastMemVer, CurMemVer.
std::string change_external_chat_xml(std::string_view corp_id, std::int64_t create_time, const ChatChangeEvent& ev);

class CustomerGroupsModule final : public Module {
 public:
  // Remembers the fixture's customer groups, contacts and join ways so reset() can restore them.
  explicit CustomerGroupsModule(Context& ctx);

  std::optional<ApiReply> api(const ApiRequest& req, const Target& t, RequestRecord& rec) override;
  std::optional<ApiReply> control(const ApiRequest& req, const Target& t, const nlohmann::json& body) override;
  void reset() override;
  nlohmann::json state() const override;
  // --state FILE: groups and contacts travel in the saved fixture; this keeps the join ways (whose
  // chat lists may outgrow the fixture format: auto-created rooms, dismissed groups), the next room
  // numbers and QR URLs, and the original groups, contacts and join ways that reset() goes back to.
  std::string_view name() const override { return "customer_groups"; }
  nlohmann::json save() const override;
  void restore(const nlohmann::json& saved) override;

 private:
  ApiReply list(const App& app, const nlohmann::json& body);
  ApiReply get(const App& app, const nlohmann::json& body);
  ApiReply add_join_way(const App& app, const nlohmann::json& body);
  ApiReply get_join_way(const App& app, const nlohmann::json& body);
  ApiReply update_join_way(const App& app, const nlohmann::json& body);
  ApiReply del_join_way(const App& app, const nlohmann::json& body);
  JoinWay* find_join_way(const App& app, const nlohmann::json& body, ApiReply& error);

  // Control API: each answers a control reply (JSON, HTTP status for errors).
  ApiReply control_join(const nlohmann::json& body);
  ApiReply control_join_bulk(const nlohmann::json& body);
  ApiReply control_leave(const nlohmann::json& body);
  ApiReply control_update(const nlohmann::json& body);
  ApiReply control_dismiss(const nlohmann::json& body);
  ApiReply control_create(const nlohmann::json& body);

  // Where a joiner lands: the group, or a control error (404 unknown, 409 full). Through a join way
  // this may create a room (emitting its create event). `created` receives a new room's chat_id.
  std::variant<CustomerGroup*, ApiReply> landing_group(const nlohmann::json& body, JoinWay** way, std::string* created);
  // Adds `m` to `g` (caller checked room and duplicates) and emits add_member.
  void add_member(CustomerGroup& g, CustomerGroupMember m);
  // A new parent: external contact following `owner`, with a random external_userid.
  CustomerGroupMember new_parent(const std::string& owner, std::string name);
  CustomerGroup& create_group(std::string name, const std::string& owner, std::string chat_id = {});
  // Queues `ev` for the customer-contact apps that see the group's `owner` — unless the event
  // policy drops it (lost event) or holds it to merge with the next ones (coalesced event).
  void emit(const ChatChangeEvent& ev, const std::string& owner);
  void send_event(const ChatChangeEvent& ev, const std::string& owner);
  void flush_held();

  Context& ctx_;
  std::vector<CustomerGroup> initial_groups_;
  std::vector<ExternalContact> initial_contacts_;
  std::vector<JoinWay> initial_join_ways_;
  // Event policy (POST /_sandbox/groups/events): member changes held per chat while coalescing,
  // and how many member-change events to lose next.
  bool coalesce_ = false;
  std::map<std::string, std::pair<ChatChangeEvent, std::string>> held_;
  std::int64_t drop_next_ = 0;
  std::int64_t dropped_ = 0;
};

// For modules.cpp.
std::unique_ptr<Module> make_customer_groups_module(Context& ctx);

}  // namespace yuer::sandbox
