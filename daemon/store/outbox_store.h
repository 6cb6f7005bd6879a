// OutboxStore: durable rows of the outbox (migration 0002). Used from one thread only (the store
// executor), like every store. Invariant kept here, not by callers: a row in state `sent` is never
// changed again; every write is one committed transaction before the call returns.
#pragma once

#include "daemon/base/result.h"
#include "daemon/model/outbox_item.h"
#include "daemon/store/store.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace yuer::store {

struct OutboxRow {
  model::OutboxItem item;  // item.attempts = attempts made so far
  model::OutboxState state = model::OutboxState::kQueued;
  std::int64_t next_attempt_ms = 0;
  std::int64_t expire_at_ms = 0;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::int64_t sent_ms = 0;
  int last_errcode = 0;
  std::string last_reason;
  std::string remote_id;
  int resends = 0;
};

struct NewOutboxItem {
  model::OutboxItem item;  // id and attempts are ignored
  std::int64_t expire_at_ms = 0;
};

struct EnqueueResult {
  std::int64_t id = 0;
  bool duplicate = false;  // the idempotency key existed: nothing inserted, id is the existing row
};

// The end of one attempt, written in one transaction with others (group commit).
struct AttemptResult {
  std::int64_t id = 0;
  model::OutboxState state = model::OutboxState::kQueued;  // sent, failed, expired, or queued (retry)
  std::int64_t next_attempt_ms = 0;                         // for queued
  int errcode = 0;
  std::string reason;
  std::string remote_id;
  bool uncount_attempt = false;  // the attempt did not count (the channel said wait): attempts - 1
};

// A send WeCom may have counted against a rate limit: a `sent` row at sent_ms, or a `sending`
// row (in flight at a crash) at its last update.
struct RecentSend {
  std::string route;
  std::string target;
  std::int64_t at_ms = 0;
};

struct OutboxQuery {
  std::optional<std::string> route;
  std::optional<std::string> target;
  std::optional<model::OutboxState> state;
  std::int64_t after_id = 0;
  int limit = 100;  // clamped to 1..1000
  bool newest_first = true;
};

struct OutboxRouteStats {
  std::string route;
  std::int64_t queued = 0;       // queued + sending
  std::int64_t oldest_created_ms = 0;  // of those; 0 when none
};

class OutboxStore {
 public:
  virtual ~OutboxStore() = default;
  // Inserts the items in one transaction, in order. Returns after the commit. Throws StoreError.
  virtual std::vector<EnqueueResult> enqueue(const std::vector<NewOutboxItem>& items, std::int64_t now_ms) = 0;
  // Sends since `since_ms` (see RecentSend), oldest first, so rate windows survive a restart.
  // Call before requeue_sending. Throws StoreError.
  virtual std::vector<RecentSend> recent_sends(std::int64_t since_ms) = 0;
  // Crash recovery: every `sending` row goes back to `queued` (resends + 1). Returns those rows'
  // ids. Call once at start, before dispatching. Throws StoreError.
  virtual std::vector<std::int64_t> requeue_sending(std::int64_t now_ms) = 0;
  // Every queued row (after requeue_sending: every open row), oldest first. Throws StoreError.
  virtual std::vector<OutboxRow> load_open() = 0;
  // Marks the rows `sending` and counts an attempt, in one transaction; rows not queued are left
  // alone and not returned. Returns the ids marked. Throws StoreError.
  virtual std::vector<std::int64_t> mark_sending(const std::vector<std::int64_t>& ids, std::int64_t now_ms) = 0;
  // Writes attempt results in one transaction. A row already `sent` is never changed. Throws StoreError.
  virtual void finish(const std::vector<AttemptResult>& results, std::int64_t now_ms) = 0;
  // Admin: queued|failed|expired|cancelled → queued now (attempts kept). False if the row is
  // missing, sent or sending. Throws StoreError.
  virtual bool retry(std::int64_t id, std::int64_t now_ms) = 0;
  // Admin: queued → cancelled. False otherwise. Throws StoreError.
  virtual bool cancel(std::int64_t id, std::int64_t now_ms) = 0;
  virtual std::optional<OutboxRow> get(std::int64_t id) = 0;
  virtual std::vector<OutboxRow> list(const OutboxQuery& query) = 0;
  virtual std::vector<OutboxRouteStats> stats() = 0;
};

// Opens a second connection to the store file at `settings.path` for the outbox, migrating the
// file first (through open_sqlite_store) when needed. Same errors as open_sqlite_store. Use it from
// one thread at a time; it may share the store executor with the main store.
Result<std::unique_ptr<OutboxStore>> open_sqlite_outbox_store(const Settings& settings);

}  // namespace yuer::store
