// RetentionStore: purges the identifying fields of closed survey rounds and old inbox payloads
// ([retention], docs/privacy.md "Retention"). What reports need stays: the eligible snapshot's
// child ids and units (coverage denominators), responses' child ids, units, interview dates, ages
// in months and answers (indicators), revisions and times. Idempotent: a second purge with the
// same cut-offs changes nothing. Used from one thread only (the store executor).
#pragma once

#include "daemon/base/result.h"
#include "daemon/store/store.h"

#include <cstdint>
#include <memory>

namespace yuer::store {

struct PurgeCounts {
  std::int64_t rounds = 0;           // closed rounds past the cut-off (purged now or before)
  std::int64_t eligible = 0;         // snapshot birth dates blanked
  std::int64_t responses = 0;        // responses whose birth date and WeCom user id were blanked
  std::int64_t history = 0;          // earlier versions whose WeCom user id was blanked
  std::int64_t conversations = 0;    // conversation states deleted
  std::int64_t bindings = 0;         // chat-to-round bindings deleted
  std::int64_t inbox_payloads = 0;   // inbox payloads blanked
  std::int64_t changed() const { return eligible + responses + history + conversations + bindings + inbox_payloads; }
};

class RetentionStore {
 public:
  virtual ~RetentionStore() = default;
  // In one transaction: rounds closed at or before `rounds_closed_before_ms` (0 = none) lose their
  // identifying fields; inbox rows received before `inbox_received_before_s` (unix seconds, 0 =
  // none) lose their payload. Deleted bytes are overwritten (secure_delete). Throws StoreError.
  virtual PurgeCounts purge(std::int64_t rounds_closed_before_ms, std::int64_t inbox_received_before_s) = 0;
};

// Opens a connection to the store file for the purge (migrating it first when needed).
Result<std::unique_ptr<RetentionStore>> open_sqlite_retention_store(const Settings& settings);

}  // namespace yuer::store
