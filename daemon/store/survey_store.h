// SurveyStore: durable survey rounds (with their eligible-roster snapshot), conversation states
// and responses (migration 0007). Used from one thread only (the store executor). Every write is
// one committed transaction before the call returns; a failed write changes nothing. Invariant
// kept here: one response per respondent per round; replacing it keeps the old one in history.
#pragma once

#include "daemon/base/result.h"
#include "daemon/store/store.h"

#include <cstdint>
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
  // Writes the state and upserts the responses in one transaction. A response for a respondent
  // that already has one replaces it (revision + 1) and the previous version goes to history.
  // Returns the response ids, in order. Throws StoreError; then nothing is written.
  virtual std::vector<std::int64_t> save_turn(const SurveyTurnWrite& turn, std::int64_t now_ms) = 0;

  // Responses of the round ordered by id (matched and unmatched). Throws StoreError.
  virtual std::vector<SurveyResponse> responses(std::int64_t round_id) = 0;
  // Responses whose respondent was not matched to the roster (for the coordinator).
  virtual std::vector<SurveyResponse> unmatched(std::int64_t round_id) = 0;
  // Earlier versions of a response, oldest first (revision, answers and times filled).
  virtual std::vector<SurveyResponse> history(std::int64_t response_id) = 0;
  // Responded/eligible per unit code of the snapshot (only children in the snapshot count).
  virtual std::map<std::string, UnitCounts> coverage_counts(std::int64_t round_id) = 0;
};

// Opens a connection to the store file for surveys (migrating it first when needed), like
// open_sqlite_org_store.
Result<std::unique_ptr<SurveyStore>> open_sqlite_survey_store(const Settings& settings);

}  // namespace yuer::store
