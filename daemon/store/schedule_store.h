// ScheduleStore: scheduled pushes (migration 0008): schedule definitions with their watermark, the
// pushes each occurrence planned (the lessons a group or parent has had, never chosen again) and the
// occurrence log. Used from one thread only (the store executor). Every write is one committed
// transaction before the call returns; a failed write changes nothing.
#pragma once

#include "daemon/base/result.h"
#include "daemon/store/store.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace yuer::store {

struct ScheduleRow {
  std::string id;
  std::string name;
  std::string state = "active";  // active | paused
  std::string spec;              // JSON definition (daemon/scheduler/schedule.h)
  std::string source = "api";    // config | api
  std::int64_t watermark_ms = 0; // last nominal occurrence handled (0: none yet)
  std::int64_t last_at_ms = 0;   // its actual time
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
};

struct SchedulePush {
  std::int64_t id = 0;
  std::string schedule_id;
  std::int64_t at_ms = 0;
  std::string local_date;  // YYYY-MM-DD in time.zone
  std::string target;      // "g:<group id>" | "kf:<child id>"
  std::string chat_id;
  std::string unit_code;
  std::string route;
  std::string address;     // outbox target
  std::string lesson_id;
  int band = -1;
  std::string state = "planned";  // planned | enqueued | failed
  std::string reason;
  std::int64_t outbox_id = 0;
  std::string idempotency_key;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
};

struct ScheduleOccurrence {
  std::string schedule_id;
  std::int64_t nominal_ms = 0;
  std::int64_t at_ms = 0;
  std::string state;  // done | skipped | empty
  int pushes = 0;
  std::string reason;
  std::int64_t logged_ms = 0;
};

// What one occurrence commits at once: its log line, its planned pushes and the schedule's new
// watermark (nominal) and last_at (actual).
struct OccurrenceCommit {
  ScheduleOccurrence occurrence;
  std::vector<SchedulePush> pushes;
};

struct PushQuery {
  std::string unit_prefix;     // '' = all
  std::string schedule_id;     // '' = all
  std::int64_t since_ms = 0;   // at_ms >= since_ms
  int limit = 1000;            // clamped to 1..100000
};

// A child counted for age staging: a roster family matched to a group member by external_userid.
struct GroupChild {
  std::string child_id;
  std::string birth_date;  // YYYY-MM-DD
  std::vector<std::string> tags;
};

class ScheduleStore {
 public:
  virtual ~ScheduleStore() = default;
  // Throws StoreError on a broken store.
  virtual std::vector<ScheduleRow> schedules() = 0;
  virtual std::optional<ScheduleRow> schedule(const std::string& id) = 0;
  // Inserts a schedule, or (same id) replaces its name, spec and source; state and watermark are kept
  // unless `reset_state` (then taken from `row`). Throws StoreError.
  virtual void put_schedule(const ScheduleRow& row, bool reset_state, std::int64_t now_ms) = 0;
  // false when there is no such schedule.
  virtual bool set_state(const std::string& id, const std::string& state, std::int64_t now_ms) = 0;
  // Logs the occurrence, inserts its pushes (a push whose idempotency key exists is left as it is)
  // and moves the schedule's watermark to occurrence.nominal_ms and last_at_ms to occurrence.at_ms
  // (when later), all in one transaction. Throws StoreError.
  virtual void commit_occurrence(const OccurrenceCommit& c) = 0;
  // Pushes still 'planned' (not yet in the outbox), oldest first.
  virtual std::vector<SchedulePush> planned() = 0;
  // The push is in the outbox (`outbox_id`, state 'enqueued') or could not be put there ('failed').
  virtual void mark_push(std::int64_t id, const std::string& state, std::int64_t outbox_id, const std::string& reason,
                         std::int64_t now_ms) = 0;
  // Every planned/enqueued push to `target` (the lessons it has had), by at_ms.
  virtual std::vector<SchedulePush> history(const std::string& target) = 0;
  // History of every target at once (for previews over many groups), by target then at_ms.
  virtual std::vector<SchedulePush> all_history() = 0;
  virtual std::vector<SchedulePush> pushes(const PushQuery& q) = 0;
  virtual std::vector<ScheduleOccurrence> occurrences(const std::string& schedule_id, int limit) = 0;
  // The roster children whose caregiver is a member (type 2) of the customer group `chat_id`.
  virtual std::vector<GroupChild> group_children(const std::string& chat_id) = 0;
};

// Opens its own connection to the store file (migrating it first when needed).
Result<std::unique_ptr<ScheduleStore>> open_sqlite_schedule_store(const Settings& settings);

}  // namespace yuer::store
