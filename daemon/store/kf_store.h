// KfStore: durable state of the 微信客服 (kf) route (migration 0003): the kf/sync_msg cursor per kf
// account, each parent's send window (their newest message) and the sends counted against it.
// Used from one thread only (the store executor). Every write is one committed transaction before
// the call returns; every method throws StoreError when the store cannot read or commit.
#pragma once

#include "daemon/base/result.h"
#include "daemon/store/store.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace yuer::store {

// One parent's window as stored; all zero when the parent never wrote to the account.
struct KfWindow {
  std::int64_t last_customer_ms = 0;  // send_time of the parent's newest message (0: never wrote)
  std::int64_t blocked_ms = 0;        // == last_customer_ms: WeCom refused a send in this window
  int sends = 0;                      // sends counted in this window (reserved or accepted)
  bool counted = false;               // the msgid asked about is one of them
};

// A message the parent sent (sync_msg origin 3).
struct KfCustomerMessage {
  std::string open_kfid;
  std::string external_userid;
  std::int64_t send_ms = 0;  // send_time × 1000 (whole seconds)
  std::string msgid;         // sync_msg msgid ('' : only a later second moves the window)
};

struct KfParent {
  std::string open_kfid;
  std::string external_userid;
};

class KfStore {
 public:
  virtual ~KfStore() = default;
  // The cursor stored for `open_kfid`, if any.
  virtual std::optional<std::string> cursor(const std::string& open_kfid) = 0;
  // One page of sync_msg, in one transaction: each parent's window moves forward to their newest
  // message (never back; the block is cleared when it moves) and the cursor becomes `next_cursor`
  // (kept when empty). Returns the parents whose window moved, once each, in first-seen order.
  // send_time has whole seconds, and each parent message gives 5 sends: a message in the SAME
  // second as the window's that the inbox has not stored yet (receiver "kf", dedupe "msg:<msgid>":
  // not a replay) opens a new window 1 ms after the current one. The caller moves windows before
  // it stores the page's messages in the inbox.
  virtual std::vector<KfParent> apply_page(const std::string& open_kfid, const std::string& next_cursor,
                                           const std::vector<KfCustomerMessage>& messages, std::int64_t now_ms) = 0;
  // The parent's window, with `counted` for `msgid`.
  virtual KfWindow window(const std::string& open_kfid, const std::string& external_userid,
                          const std::string& msgid) = 0;
  // Counts `msgid` against the window that opened at `window_ms` (moves it there when it was
  // counted against an older window).
  virtual void count_send(const std::string& open_kfid, const std::string& external_userid, const std::string& msgid,
                          std::int64_t window_ms, std::int64_t now_ms) = 0;
  // WeCom accepted `msgid`.
  virtual void mark_accepted(const std::string& open_kfid, const std::string& msgid, std::int64_t now_ms) = 0;
  // WeCom refused `msgid`: it no longer counts.
  virtual void uncount_send(const std::string& open_kfid, const std::string& msgid) = 0;
  // WeCom refused sends in the window that opened at `window_ms` (over the limit, past 48 h):
  // nothing more is tried until the parent writes again. No effect when the window has moved on.
  virtual void block_window(const std::string& open_kfid, const std::string& external_userid, std::int64_t window_ms,
                            std::int64_t now_ms) = 0;
};

// Opens another connection to the store file at `settings.path` for the kf state, migrating the
// file first (through open_sqlite_store) when needed. Same errors as open_sqlite_store; ":memory:"
// is refused (a second connection cannot see it).
Result<std::unique_ptr<KfStore>> open_sqlite_kf_store(const Settings& settings);

}  // namespace yuer::store
