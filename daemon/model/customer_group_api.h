// CustomerGroupApi: the seam the groups engine (daemon/groups) reads parents' customer groups and
// manages the township join ways through. adapters/customer_group implements it with
// externalcontact/groupchat/get|list and the 「加入群聊」 join-way calls (reference §8.1–8.5); the
// engine never sees a URL or an errcode.
#pragma once

#include "daemon/model/outbox_item.h"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace yuer::model {

struct CustomerGroupMemberInfo {
  std::string userid;  // member userid (type 1) or external_userid (type 2)
  int type = 2;
  std::int64_t join_time = 0;
  std::string state;  // the join way's state, for members who scanned its QR
};

struct CustomerGroupInfo {
  std::string chat_id;
  std::string name;
  std::string owner;
  std::int64_t create_time = 0;  // unix seconds
  std::string member_version;
  std::vector<CustomerGroupMemberInfo> members;
};

struct CustomerGroupAnswer {
  SendOutcome outcome;  // delivered = `group` is WeCom's answer
  bool gone = false;    // WeCom says the chat does not exist (dismissed)
  CustomerGroupInfo group;
};

struct CustomerGroupListAnswer {
  SendOutcome outcome;
  std::vector<std::string> chat_ids;
};

struct JoinWaySpec {
  std::string remark;          // ≤ 30 characters
  bool auto_create_room = false;
  std::string room_base_name;  // ≤ 40 characters
  std::int64_t room_base_id = 1;
  std::vector<std::string> chat_ids;  // 1..5
  std::string state;           // ≤ 30 characters: comes back on each member who scanned
};

struct JoinWayAnswer {
  SendOutcome outcome;
  std::string config_id;
  std::string qr_code;
  std::vector<std::string> chat_ids;  // get: the list as WeCom has it (auto-created rooms included)
};

class CustomerGroupApi {
 public:
  virtual ~CustomerGroupApi() = default;
  virtual boost::asio::awaitable<CustomerGroupAnswer> get(std::string chat_id) = 0;
  // Every customer group of `owners` (all pages).
  virtual boost::asio::awaitable<CustomerGroupListAnswer> list(std::vector<std::string> owners) = 0;
  virtual boost::asio::awaitable<JoinWayAnswer> add_join_way(JoinWaySpec spec) = 0;
  virtual boost::asio::awaitable<SendOutcome> update_join_way(std::string config_id, JoinWaySpec spec) = 0;
  virtual boost::asio::awaitable<JoinWayAnswer> get_join_way(std::string config_id) = 0;
};

}  // namespace yuer::model
