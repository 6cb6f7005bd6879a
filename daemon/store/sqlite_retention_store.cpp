// The SQLite RetentionStore: its own connection, with secure_delete so purged values do not linger
// in free pages.
#include "daemon/store/retention_store.h"

#include "daemon/store/sqlite_store.h"

namespace yuer::store {
namespace {

constexpr const char* kPastRounds =
    "(SELECT id FROM survey_round WHERE state = 'closed' AND closed_ms > 0 AND closed_ms <= ?1)";

class SqliteRetentionStore final : public RetentionStore, private SqliteConnection {
 public:
  SqliteRetentionStore(std::string path, SQLite::Database db) : SqliteConnection(std::move(path), std::move(db), "retention") {}

  PurgeCounts purge(std::int64_t rounds_closed_before_ms, std::int64_t inbox_received_before_s) override {
    return write("purge", [&] {
      PurgeCounts c;
      auto run = [&](const std::string& sql, std::int64_t arg) -> std::int64_t {
        SQLite::Statement q(db_, sql);
        q.bind(1, arg);
        return q.exec();
      };
      if (rounds_closed_before_ms > 0) {
        const std::string past = kPastRounds;
        SQLite::Statement n(db_, "SELECT count(*) FROM " + past + "");
        n.bind(1, rounds_closed_before_ms);
        n.executeStep();
        c.rounds = n.getColumn(0).getInt64();
        c.eligible = run("UPDATE survey_eligible SET birth_date = '' WHERE birth_date <> '' AND round_id IN " + past,
                         rounds_closed_before_ms);
        c.history = run("UPDATE survey_response_history SET user_id = '' WHERE user_id <> '' AND response_id IN "
                        "(SELECT id FROM survey_response WHERE round_id IN " + past + ")",
                        rounds_closed_before_ms);
        c.responses = run("UPDATE survey_response SET birth_date = '', user_id = '', respondent_key = CASE WHEN "
                          "child_id = '' THEN 'purged:' || id ELSE respondent_key END WHERE (birth_date <> '' OR "
                          "user_id <> '') AND round_id IN " + past,
                          rounds_closed_before_ms);
        c.conversations = run("DELETE FROM survey_conversation WHERE round_id IN " + past, rounds_closed_before_ms);
        c.bindings = run("DELETE FROM survey_binding WHERE round_id IN " + past, rounds_closed_before_ms);
      }
      if (inbox_received_before_s > 0)
        c.inbox_payloads = run("UPDATE inbox SET payload = '' WHERE payload <> '' AND received_at < ?1",
                               inbox_received_before_s);
      return c;
    });
  }
};

}  // namespace

Result<std::unique_ptr<RetentionStore>> open_sqlite_retention_store(const Settings& settings) {
  auto db = open_sqlite_connection(settings, "the retention purge");
  if (!db) return db.error();
  try {
    db->exec("PRAGMA secure_delete = ON");
  } catch (const SQLite::Exception& e) {
    return fail("store.open", std::string("cannot set secure_delete: ") + e.what());
  }
  return std::unique_ptr<RetentionStore>(std::make_unique<SqliteRetentionStore>(settings.path, std::move(*db)));
}

}  // namespace yuer::store
