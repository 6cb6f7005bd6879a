// GroupTaskApi: the seam the customer-group task engine (daemon/group_task) drives WeCom through.
// Parents' groups are customer (external) groups: nothing is posted there unattended; a mass-message
// task is created for the groups' owner, who confirms it in the WeCom client, and WeCom reports
// the result per group. adapters/group_task implements it with externalcontact/add_msg_template
// and its companions (reference §8.6); the engine never sees a URL or an errcode.
#pragma once

#include "daemon/model/outbox_item.h"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace yuer::model {

// WeCom's result for one group of a task.
enum class GroupResult { kPending, kSent, kFailed, kOverQuota };

struct GroupOwnerAnswer {
  SendOutcome outcome;  // delivered = found
  std::string owner;    // the group's owner userid
};

struct TaskCreatedAnswer {
  SendOutcome outcome;  // delivered = the task exists in WeCom
  std::string msgid;
};

struct TaskStatusAnswer {
  SendOutcome outcome;           // delivered = the status below is WeCom's answer
  bool owner_sent = false;       // the owner confirmed and WeCom posted (or tried to)
  std::map<std::string, GroupResult> groups;  // per chat id, when owner_sent
};

struct CreatedTask {
  std::string msgid;
  std::string text;
};

struct CreatedTasksAnswer {
  SendOutcome outcome;
  std::vector<CreatedTask> tasks;
};

class GroupTaskApi {
 public:
  virtual ~GroupTaskApi() = default;
  // The owner of customer group `chat_id`.
  virtual boost::asio::awaitable<GroupOwnerAnswer> owner_of(std::string chat_id) = 0;
  // Creates one task: `owner` posts `text` to `chat_ids` once confirmed.
  virtual boost::asio::awaitable<TaskCreatedAnswer> create(std::string owner, std::vector<std::string> chat_ids,
                                                           std::string text) = 0;
  // Whether `owner` has confirmed task `msgid`, and then the result per group.
  virtual boost::asio::awaitable<TaskStatusAnswer> status(std::string msgid, std::string owner) = 0;
  // Reminds the owner in the WeCom client.
  virtual boost::asio::awaitable<SendOutcome> remind(std::string msgid) = 0;
  // Stops what the owner has not sent yet.
  virtual boost::asio::awaitable<SendOutcome> cancel(std::string msgid) = 0;
  // Group tasks created between the two times (unix seconds): lets a restart find a task whose
  // creation it did not see answered.
  virtual boost::asio::awaitable<CreatedTasksAnswer> created_between(std::int64_t start_s, std::int64_t end_s) = 0;
};

}  // namespace yuer::model
