// SurveyStore: durable survey rounds (with their eligible-roster snapshot), conversation states
// and responses (migration 0007). Used from one thread only (the store executor). Every write is
// one committed transaction before the call returns; a failed write changes nothing. Invariant
// kept here: one response per respondent per round; replacing it keeps the old one in history.
#pragma once

#include "daemon/base/result.h"
#include "daemon/store/store.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace yuer::store {

struct SurveyRound {
  std::int64_t id = 0;
  std::string survey_id;
  int survey_version = 0;
  std::string unit_code;
  std::string opens_on;   // YYYY-MM-DD
  std::string closes_on;  // YYYY-MM-DD
  std::string state = "open";  // open | closed
  std::int64_t created_ms = 0;
  std::int64_t closed_ms = 0;
  std::int64_t eligible = 0;  // size of the snapshot
  std::string name;                // 0009: the coordinator's name for the round
  std::vector<std::string> units;  // 0009: the units as opened (unit_code is their common top)
};

// 0009: a township's 微信客服 link for a round.
struct SurveyKfLink {
  std::int64_t round_id = 0;
  std::string unit_code;
  std::string open_kfid;
  std::string scene;
  std::string url;
};

// 0009: the round a parent's chat answers.
struct SurveyBinding {
  std::int64_t round_id = 0;
  std::string unit_code;
};

struct EligibleChild {
  std::string child_id;
  std::string unit_code;
  std::string birth_date;
  bool operator==(const EligibleChild&) const = default;
};

struct SurveyResponse {
  std::int64_t id = 0;
  std::int64_t round_id = 0;
  std::string child_id;    // '' when the respondent was not matched to the roster
  std::string unit_code;
  std::string birth_date;
  std::string channel;
  std::string user_id;
  std::string interview_date;
  int age_months = 0;
  bool recall_shifted = false;
  std::string answers;     // JSON text
  int revision = 1;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
};

// One conversation's state after a parent message, and the responses it confirmed.
struct SurveyTurnWrite {
  std::string channel;
  std::string user_id;
  std::int64_t round_id = 0;
  std::string state;  // ConversationState JSON
  std::vector<SurveyResponse> responses;  // id, revision, created/updated are ignored
  std::string cursor_name;       // 0009: when set, the cursor moves to cursor_id in the same transaction
  std::int64_t cursor_id = 0;
};

struct SurveyBindingWrite {
  std::string channel;
  std::string user_id;
  SurveyBinding binding;
};

// One stored conversation (its state JSON) and when it was last written (the parent's last turn).
struct SurveyConversationRow {
  std::string channel;
  std::string user_id;
  std::int64_t round_id = 0;
  std::string state;
  std::int64_t updated_ms = 0;
};

struct UnitCounts {
  std::int64_t responded = 0;  // eligible children of the unit with a response
  std::int64_t eligible = 0;
};

class SurveyStore {
 public:
  virtual ~SurveyStore() = default;
  // Opens a round with its eligible snapshot (children listed more than once count once).
  // Returns the round id. Throws StoreError.
  virtual std::int64_t open_round(const SurveyRound& round, const std::vector<EligibleChild>& eligible,
                                  std::int64_t now_ms) = 0;
  // Marks the round closed (no effect when already closed). Returns false for an unknown id.
  virtual bool close_round(std::int64_t round_id, std::int64_t now_ms) = 0;
  // Rounds by id (open ones only when `open_only`). Throws StoreError.
  virtual std::vector<SurveyRound> rounds(bool open_only) = 0;
  virtual std::optional<SurveyRound> round(std::int64_t round_id) = 0;
  // The snapshot, by child id. Throws StoreError.
  virtual std::vector<EligibleChild> eligible(std::int64_t round_id) = 0;

  // The stored state JSON, or nullopt when this conversation never wrote one. Throws StoreError.
  virtual std::optional<std::string> conversation(const std::string& channel, const std::string& user_id,
                                                  std::int64_t round_id) = 0;
  // Every conversation of a round on `channel` written at or after `since_ms`, by user id (survey
  // reminders: who started recently). Throws StoreError.
  virtual std::vector<SurveyConversationRow> conversations(std::int64_t round_id, const std::string& channel,
                                                           std::int64_t since_ms) = 0;
  // Writes the state and upserts the responses in one transaction. A response for a respondent
  // that already has one replaces it (revision + 1) and the previous version goes to history.
  // Returns the response ids, in order. Throws StoreError; then nothing is written.
  virtual std::vector<std::int64_t> save_turn(const SurveyTurnWrite& turn, std::int64_t now_ms) = 0;
  // 0009: bindings, then several turns (in order) in ONE transaction, and then `cursor_name`
  // moved to `cursor_id` (when the name is not empty). Throws StoreError; then nothing is written.
  virtual void save_turns(const std::vector<SurveyBindingWrite>& bindings, const std::vector<SurveyTurnWrite>& turns,
                          const std::string& cursor_name, std::int64_t cursor_id, std::int64_t now_ms) = 0;

  // Responses of the round ordered by id (matched and unmatched). Throws StoreError.
  virtual std::vector<SurveyResponse> responses(std::int64_t round_id) = 0;
  // Responses whose respondent was not matched to the roster (for the coordinator).
  virtual std::vector<SurveyResponse> unmatched(std::int64_t round_id) = 0;
  // Earlier versions of a response, oldest first (revision, answers and times filled).
  virtual std::vector<SurveyResponse> history(std::int64_t response_id) = 0;
  // Responded/eligible per unit code of the snapshot (only children in the snapshot count).
  virtual std::map<std::string, UnitCounts> coverage_counts(std::int64_t round_id) = 0;

  // 0009: every response of the round ordered by id, one at a time (exports: nothing held in
  // memory). `f` must not call the store. Throws StoreError.
  virtual void for_each_response(std::int64_t round_id, const std::function<void(const SurveyResponse&)>& f) = 0;
  // 0008 (the survey service). Links of a round's townships (replacing the round's earlier ones).
  virtual void put_kf_links(std::int64_t round_id, const std::vector<SurveyKfLink>& links) = 0;
  virtual std::vector<SurveyKfLink> kf_links(std::int64_t round_id) = 0;
  virtual std::optional<SurveyKfLink> kf_link_by_scene(const std::string& scene) = 0;
  // The round a chat answers; bind() replaces it.
  virtual std::optional<SurveyBinding> binding(const std::string& channel, const std::string& user_id) = 0;
  virtual void bind(const std::string& channel, const std::string& user_id, const SurveyBinding& b,
                    std::int64_t now_ms) = 0;
  // A consumer's cursor (0 when never set) and moving it alone (rows that are not a turn).
  virtual std::int64_t cursor(const std::string& name) = 0;
  virtual void set_cursor(const std::string& name, std::int64_t inbox_id) = 0;
};

// Opens a connection to the store file for surveys (migrating it first when needed), like
// open_sqlite_org_store.
Result<std::unique_ptr<SurveyStore>> open_sqlite_survey_store(const Settings& settings);

}  // namespace yuer::store
