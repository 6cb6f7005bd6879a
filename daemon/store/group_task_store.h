// GroupTaskStore: durable rows of the customer-group task route (migration 0004): posts waiting for
// a customer group, the add_msg_template tasks that carry them, and WeCom's result per group.
// Used from one thread only (the store executor). Invariants kept here, not by callers: a post
// `sent` never changes again; every write is one committed transaction before the call returns.
#pragma once

#include "daemon/base/result.h"
#include "daemon/store/outbox_store.h"
#include "daemon/store/store.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace yuer::store {

struct GroupPost {
  std::int64_t id = 0;
  std::string chat_id;
  std::string content;
  std::string idempotency_key;
  std::string state = "queued";  // queued | tasked | sent | failed | expired | cancelled
  std::int64_t task_id = 0;
  std::int64_t not_before_ms = 0;
  std::int64_t expire_at_ms = 0;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::int64_t sent_ms = 0;
  std::string reason;
};

struct NewGroupPost {
  std::string chat_id;
  std::string content;
  std::string idempotency_key;
  std::int64_t expire_at_ms = 0;
};

struct GroupTask {
  std::int64_t id = 0;
  std::string owner;
  std::string content;
  std::string month;  // YYYY-MM, Asia/Shanghai
  std::string state = "creating";  // creating | waiting | done | cancelled | failed
  std::string msgid;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::int64_t next_check_ms = 0;
  int reminds = 0;
  std::int64_t last_remind_ms = 0;
  std::int64_t done_ms = 0;
  std::string reason;
  std::map<std::string, std::string> chats;  // chat_id → result ('' | sent | failed | over_quota)
  std::vector<std::int64_t> post_ids;        // posts carried, in id order
};

// A task to create: the posts it carries (all `queued`; each must belong to one of `chat_ids`).
struct NewGroupTask {
  std::string owner;
  std::string content;
  std::string month;
  std::vector<std::string> chat_ids;
  std::vector<std::int64_t> post_ids;
};

// What became of a task: its end state and each group's result; the posts of each group end
// `sent` (result sent) or `failed` with `post_reason[chat]` (any other result), or — for a
// task ending cancelled/failed/expired as a whole — take `posts_state` with the task's reason.
struct GroupTaskEnd {
  std::int64_t task_id = 0;
  std::string state;  // done | cancelled | failed
  std::string reason;
  std::map<std::string, std::string> results;      // chat_id → sent | failed | over_quota
  std::map<std::string, std::string> post_reason;  // chat_id → Chinese reason (not sent)
  std::string posts_state = "failed";              // for posts whose group has no result: failed | expired
};

struct GroupTaskQuery {
  std::optional<std::string> state;  // a task state, or "open" for creating + waiting
  std::optional<std::string> owner;
  int limit = 100;  // clamped to 1..1000
};

class GroupTaskStore {
 public:
  virtual ~GroupTaskStore() = default;
  // Inserts the posts in one transaction, in order (an existing idempotency key: not inserted,
  // its row's id returned as a duplicate). Throws StoreError.
  virtual std::vector<EnqueueResult> enqueue(const std::vector<NewGroupPost>& posts, std::int64_t now_ms) = 0;
  // Every `queued` post, oldest first. Throws StoreError.
  virtual std::vector<GroupPost> queued_posts() = 0;
  // Tasks in `month` that count against each group's quota (creating, waiting, or sent to it).
  virtual std::map<std::string, int> quota_used(const std::vector<std::string>& chat_ids, const std::string& month) = 0;
  // Writes the task (state creating) and marks its posts tasked, in one transaction. Returns the
  // task id, or 0 when a post was no longer queued (nothing written). Throws StoreError.
  virtual std::int64_t create_task(const NewGroupTask& task, std::int64_t now_ms) = 0;
  // creating → waiting with WeCom's msgid. Throws StoreError.
  virtual void task_created(std::int64_t task_id, const std::string& msgid, std::int64_t next_check_ms,
                            std::int64_t now_ms) = 0;
  // A task WeCom did not create (transient): deleted, its posts queued again after
  // `not_before_ms` with `reason`. Throws StoreError.
  virtual void abandon_task(std::int64_t task_id, std::int64_t not_before_ms, const std::string& reason,
                            std::int64_t now_ms) = 0;
  // Reschedules the next look at a waiting task; `reminded` counts a reminder at now. Throws StoreError.
  virtual void task_checked(std::int64_t task_id, std::int64_t next_check_ms, bool reminded, const std::string& reason,
                            std::int64_t now_ms) = 0;
  // Ends a task and its posts (GroupTaskEnd), one transaction. Throws StoreError.
  virtual void end_task(const GroupTaskEnd& end, std::int64_t now_ms) = 0;
  // Queued posts wait until `not_before_ms` with `reason` (e.g. the month's quota is used up).
  virtual void defer_posts(const std::vector<std::int64_t>& ids, std::int64_t not_before_ms, const std::string& reason,
                           std::int64_t now_ms) = 0;
  // Queued posts end `state` (failed | expired | cancelled) with `reason`. Returns how many changed.
  virtual int end_posts(const std::vector<std::int64_t>& ids, const std::string& state, const std::string& reason,
                        std::int64_t now_ms) = 0;
  // Tasks by query (newest first), with their groups and posts. Throws StoreError.
  virtual std::vector<GroupTask> tasks(const GroupTaskQuery& query) = 0;
  // Every open task (creating or waiting), oldest first, with groups and posts. Throws StoreError.
  virtual std::vector<GroupTask> open_tasks() = 0;
  virtual std::optional<GroupPost> post(std::int64_t id) = 0;
};

// Opens a connection to the store file for the group-task route (migrating it first when
// needed), like open_sqlite_outbox_store.
Result<std::unique_ptr<GroupTaskStore>> open_sqlite_group_task_store(const Settings& settings);

}  // namespace yuer::store
