// The SQLite SurveyStore: its own connection to the store file (WAL lets it write beside the
// other stores' connections).
#include "daemon/store/survey_store.h"

#include "daemon/store/sqlite_store.h"

#include <SQLiteCpp/Transaction.h>

namespace yuer::store {
namespace {

constexpr const char* kRoundColumns =
    "r.id, r.survey_id, r.survey_version, r.unit_code, r.opens_on, r.closes_on, r.state, r.created_ms, r.closed_ms, "
    "(SELECT COUNT(*) FROM survey_eligible e WHERE e.round_id = r.id), r.name, r.units";
constexpr const char* kResponseColumns =
    "id, round_id, child_id, unit_code, birth_date, channel, user_id, interview_date, age_months, recall_shifted, "
    "answers, revision, created_ms, updated_ms";

SurveyRound read_round(SQLite::Statement& q) {
  SurveyRound r;
  r.id = q.getColumn(0).getInt64();
  r.survey_id = q.getColumn(1).getString();
  r.survey_version = q.getColumn(2).getInt();
  r.unit_code = q.getColumn(3).getString();
  r.opens_on = q.getColumn(4).getString();
  r.closes_on = q.getColumn(5).getString();
  r.state = q.getColumn(6).getString();
  r.created_ms = q.getColumn(7).getInt64();
  r.closed_ms = q.getColumn(8).getInt64();
  r.eligible = q.getColumn(9).getInt64();
  r.name = q.getColumn(10).getString();
  r.units = split_semicolon(q.getColumn(11).getString());
  return r;
}

constexpr const char* kEligibleBirth = "survey_eligible.birth_date";
constexpr const char* kState = "survey_conversation.state";
constexpr const char* kBirth = "survey_response.birth_date";
constexpr const char* kAnswers = "survey_response.answers";  // also survey_response_history.answers (copied by SQL)

SurveyResponse read_response(SQLite::Statement& q, const FieldCipher* cipher) {
  SurveyResponse r;
  r.id = q.getColumn(0).getInt64();
  r.round_id = q.getColumn(1).getInt64();
  r.child_id = q.getColumn(2).getString();
  r.unit_code = q.getColumn(3).getString();
  r.birth_date = open_field(cipher, q.getColumn(4).getString(), kBirth);
  r.channel = q.getColumn(5).getString();
  r.user_id = q.getColumn(6).getString();
  r.interview_date = q.getColumn(7).getString();
  r.age_months = q.getColumn(8).getInt();
  r.recall_shifted = q.getColumn(9).getInt() != 0;
  r.answers = open_field(cipher, q.getColumn(10).getString(), kAnswers);
  r.revision = q.getColumn(11).getInt();
  r.created_ms = q.getColumn(12).getInt64();
  r.updated_ms = q.getColumn(13).getInt64();
  return r;
}

std::string respondent_key(const SurveyResponse& r, const std::string& channel, const std::string& user,
                           const FieldCipher* cipher) {
  if (!r.child_id.empty()) return r.child_id;
  return unmatched_respondent_key(cipher, channel, user, r.birth_date);
}

class SqliteSurveyStore final : public SurveyStore, private SqliteConnection {
 public:
  SqliteSurveyStore(std::string path, SQLite::Database db, std::shared_ptr<const FieldCipher> cipher)
      : SqliteConnection(std::move(path), std::move(db), "surveys"), cipher_(std::move(cipher)) {}

  std::int64_t open_round(const SurveyRound& round, const std::vector<EligibleChild>& eligible, std::int64_t now_ms) override {
    return write("open round", [&] {
      SQLite::Statement ins(db_,
                            "INSERT INTO survey_round (survey_id, survey_version, unit_code, opens_on, closes_on, state, "
                            "created_ms, name, units) VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?8)");
      ins.bind(1, round.survey_id);
      ins.bind(2, round.survey_version);
      ins.bind(3, round.unit_code);
      ins.bind(4, round.opens_on);
      ins.bind(5, round.closes_on);
      ins.bind(6, now_ms);
      ins.bind(7, round.name);
      ins.bind(8, join_semicolon(round.units));
      ins.exec();
      std::int64_t id = db_.getLastInsertRowid();
      SQLite::Statement child(db_,
                              "INSERT INTO survey_eligible (round_id, child_id, unit_code, birth_date) VALUES (?1, ?2, ?3, ?4) "
                              "ON CONFLICT DO NOTHING");
      for (const auto& e : eligible) {
        child.bind(1, id);
        child.bind(2, e.child_id);
        child.bind(3, e.unit_code);
        child.bind(4, seal_field(cipher_.get(), e.birth_date, kEligibleBirth));
        child.exec();
        child.reset();
      }
      return id;
    });
  }

  bool close_round(std::int64_t round_id, std::int64_t now_ms) override {
    return write("close round", [&] {
      SQLite::Statement q(db_, "UPDATE survey_round SET state = 'closed', closed_ms = ?2 WHERE id = ?1 AND state = 'open'");
      q.bind(1, round_id);
      q.bind(2, now_ms);
      q.exec();
      SQLite::Statement exists(db_, "SELECT 1 FROM survey_round WHERE id = ?1");
      exists.bind(1, round_id);
      return exists.executeStep();
    });
  }

  std::vector<SurveyRound> rounds(bool open_only) override {
    return read("list rounds", [&] {
      SQLite::Statement q(db_, std::string("SELECT ") + kRoundColumns + " FROM survey_round r" +
                                   (open_only ? " WHERE r.state = 'open'" : "") + " ORDER BY r.id");
      std::vector<SurveyRound> out;
      while (q.executeStep()) out.push_back(read_round(q));
      return out;
    });
  }

  std::optional<SurveyRound> round(std::int64_t round_id) override {
    return read("get round", [&]() -> std::optional<SurveyRound> {
      SQLite::Statement q(db_, std::string("SELECT ") + kRoundColumns + " FROM survey_round r WHERE r.id = ?1");
      q.bind(1, round_id);
      if (!q.executeStep()) return std::nullopt;
      return read_round(q);
    });
  }

  std::vector<EligibleChild> eligible(std::int64_t round_id) override {
    return read("list eligible", [&] {
      SQLite::Statement q(db_, "SELECT child_id, unit_code, birth_date FROM survey_eligible WHERE round_id = ?1 ORDER BY child_id");
      q.bind(1, round_id);
      std::vector<EligibleChild> out;
      while (q.executeStep())
        out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(),
                       open_field(cipher_.get(), q.getColumn(2).getString(), kEligibleBirth)});
      return out;
    });
  }

  std::optional<std::string> conversation(const std::string& channel, const std::string& user_id, std::int64_t round_id) override {
    return read("get conversation", [&]() -> std::optional<std::string> {
      SQLite::Statement q(db_, "SELECT state FROM survey_conversation WHERE channel = ?1 AND user_id = ?2 AND round_id = ?3");
      q.bind(1, channel);
      q.bind(2, user_id);
      q.bind(3, round_id);
      if (!q.executeStep()) return std::nullopt;
      return open_field(cipher_.get(), q.getColumn(0).getString(), kState);
    });
  }

  std::vector<SurveyConversationRow> conversations(std::int64_t round_id, const std::string& channel,
                                                   std::int64_t since_ms) override {
    return read("list conversations", [&] {
      SQLite::Statement q(db_,
                          "SELECT user_id, state, updated_ms FROM survey_conversation WHERE round_id = ?1 AND channel = ?2 "
                          "AND updated_ms >= ?3 ORDER BY user_id");
      q.bind(1, round_id);
      q.bind(2, channel);
      q.bind(3, since_ms);
      std::vector<SurveyConversationRow> out;
      while (q.executeStep())
        out.push_back({channel, q.getColumn(0).getString(), round_id,
                       open_field(cipher_.get(), q.getColumn(1).getString(), kState), q.getColumn(2).getInt64()});
      return out;
    });
  }

  std::vector<std::int64_t> save_turn(const SurveyTurnWrite& turn, std::int64_t now_ms) override {
    return write("save turn", [&] { return put_turn(turn, now_ms); });
  }

  void save_turns(const std::vector<SurveyBindingWrite>& bindings, const std::vector<SurveyTurnWrite>& turns,
                  const std::string& cursor_name, std::int64_t cursor_id, std::int64_t now_ms) override {
    write("save turns", [&] {
      for (const auto& b : bindings) put_binding(b.channel, b.user_id, b.binding, now_ms);
      for (const auto& t : turns) put_turn(t, now_ms);
      if (!cursor_name.empty()) put_cursor(cursor_name, cursor_id);
      return 0;
    });
  }

  std::vector<std::int64_t> put_turn(const SurveyTurnWrite& turn, std::int64_t now_ms) {
    {
      SQLite::Statement conv(db_,
                             "INSERT INTO survey_conversation (channel, user_id, round_id, state, created_ms, updated_ms) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (channel, user_id, round_id) DO UPDATE SET "
                             "state = excluded.state, updated_ms = excluded.updated_ms");
      conv.bind(1, turn.channel);
      conv.bind(2, turn.user_id);
      conv.bind(3, turn.round_id);
      conv.bind(4, seal_field(cipher_.get(), turn.state, kState));
      conv.bind(5, now_ms);
      conv.exec();
    }
    std::vector<std::int64_t> ids;
    for (const auto& r : turn.responses) ids.push_back(upsert_response(turn, r, now_ms));
    if (!turn.cursor_name.empty()) put_cursor(turn.cursor_name, turn.cursor_id);
    return ids;
  }

  std::vector<SurveyResponse> responses(std::int64_t round_id) override {
    return list("list responses", "WHERE round_id = ?1 ORDER BY id", round_id);
  }

  std::vector<SurveyResponse> unmatched(std::int64_t round_id) override {
    return list("list unmatched", "WHERE round_id = ?1 AND child_id = '' ORDER BY id", round_id);
  }

  std::vector<SurveyResponse> history(std::int64_t response_id) override {
    return read("response history", [&] {
      SQLite::Statement q(db_,
                          "SELECT h.response_id, r.round_id, r.child_id, r.unit_code, r.birth_date, h.channel, h.user_id, "
                          "h.interview_date, h.age_months, h.recall_shifted, h.answers, h.revision, h.saved_ms, h.replaced_ms "
                          "FROM survey_response_history h JOIN survey_response r ON r.id = h.response_id "
                          "WHERE h.response_id = ?1 ORDER BY h.revision");
      q.bind(1, response_id);
      std::vector<SurveyResponse> out;
      while (q.executeStep()) out.push_back(read_response(q, cipher_.get()));
      return out;
    });
  }

  std::map<std::string, UnitCounts> coverage_counts(std::int64_t round_id) override {
    return read("coverage counts", [&] {
      SQLite::Statement q(db_,
                          "SELECT e.unit_code, COUNT(*), COUNT(r.id) FROM survey_eligible e LEFT JOIN survey_response r "
                          "ON r.round_id = e.round_id AND r.respondent_key = e.child_id WHERE e.round_id = ?1 "
                          "GROUP BY e.unit_code");
      q.bind(1, round_id);
      std::map<std::string, UnitCounts> out;
      while (q.executeStep()) out[q.getColumn(0).getString()] = {q.getColumn(2).getInt64(), q.getColumn(1).getInt64()};
      return out;
    });
  }

  void for_each_response(std::int64_t round_id, const std::function<void(const SurveyResponse&)>& f) override {
    read("each response", [&] {
      SQLite::Statement q(db_, std::string("SELECT ") + kResponseColumns + " FROM survey_response WHERE round_id = ?1 ORDER BY id");
      q.bind(1, round_id);
      while (q.executeStep()) f(read_response(q, cipher_.get()));
      return 0;
    });
  }

  void put_kf_links(std::int64_t round_id, const std::vector<SurveyKfLink>& links) override {
    write("put kf links", [&] {
      SQLite::Statement del(db_, "DELETE FROM survey_kf_link WHERE round_id = ?1");
      del.bind(1, round_id);
      del.exec();
      SQLite::Statement ins(db_,
                            "INSERT INTO survey_kf_link (round_id, unit_code, open_kfid, scene, url) VALUES (?1, ?2, ?3, ?4, ?5)");
      for (const auto& l : links) {
        ins.bind(1, round_id);
        ins.bind(2, l.unit_code);
        ins.bind(3, l.open_kfid);
        ins.bind(4, l.scene);
        ins.bind(5, l.url);
        ins.exec();
        ins.reset();
      }
      return 0;
    });
  }

  std::vector<SurveyKfLink> kf_links(std::int64_t round_id) override {
    return read("list kf links", [&] {
      SQLite::Statement q(db_,
                          "SELECT round_id, unit_code, open_kfid, scene, url FROM survey_kf_link WHERE round_id = ?1 "
                          "ORDER BY unit_code");
      q.bind(1, round_id);
      std::vector<SurveyKfLink> out;
      while (q.executeStep()) out.push_back(read_link(q));
      return out;
    });
  }

  std::optional<SurveyKfLink> kf_link_by_scene(const std::string& scene) override {
    return read("kf link by scene", [&]() -> std::optional<SurveyKfLink> {
      SQLite::Statement q(db_, "SELECT round_id, unit_code, open_kfid, scene, url FROM survey_kf_link WHERE scene = ?1");
      q.bind(1, scene);
      if (!q.executeStep()) return std::nullopt;
      return read_link(q);
    });
  }

  std::optional<SurveyBinding> binding(const std::string& channel, const std::string& user_id) override {
    return read("get binding", [&]() -> std::optional<SurveyBinding> {
      SQLite::Statement q(db_, "SELECT round_id, unit_code FROM survey_binding WHERE channel = ?1 AND user_id = ?2");
      q.bind(1, channel);
      q.bind(2, user_id);
      if (!q.executeStep()) return std::nullopt;
      return SurveyBinding{q.getColumn(0).getInt64(), q.getColumn(1).getString()};
    });
  }

  void bind(const std::string& channel, const std::string& user_id, const SurveyBinding& b, std::int64_t now_ms) override {
    write("bind", [&] {
      put_binding(channel, user_id, b, now_ms);
      return 0;
    });
  }

  void put_binding(const std::string& channel, const std::string& user_id, const SurveyBinding& b, std::int64_t now_ms) {
    {
      SQLite::Statement q(db_,
                          "INSERT INTO survey_binding (channel, user_id, round_id, unit_code, updated_ms) VALUES "
                          "(?1, ?2, ?3, ?4, ?5) ON CONFLICT (channel, user_id) DO UPDATE SET round_id = excluded.round_id, "
                          "unit_code = excluded.unit_code, updated_ms = excluded.updated_ms");
      q.bind(1, channel);
      q.bind(2, user_id);
      q.bind(3, b.round_id);
      q.bind(4, b.unit_code);
      q.bind(5, now_ms);
      q.exec();
    }
  }

  std::int64_t cursor(const std::string& name) override {
    return read("get cursor", [&]() -> std::int64_t {
      SQLite::Statement q(db_, "SELECT inbox_id FROM survey_cursor WHERE name = ?1");
      q.bind(1, name);
      return q.executeStep() ? q.getColumn(0).getInt64() : 0;
    });
  }

  void set_cursor(const std::string& name, std::int64_t inbox_id) override {
    write("set cursor", [&] {
      put_cursor(name, inbox_id);
      return 0;
    });
  }

 private:
  static SurveyKfLink read_link(SQLite::Statement& q) {
    return {q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString(),
            q.getColumn(3).getString(), q.getColumn(4).getString()};
  }

  void put_cursor(const std::string& name, std::int64_t inbox_id) {
    SQLite::Statement q(db_,
                        "INSERT INTO survey_cursor (name, inbox_id) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET "
                        "inbox_id = excluded.inbox_id");
    q.bind(1, name);
    q.bind(2, inbox_id);
    q.exec();
  }

  std::vector<SurveyResponse> list(const char* op, const char* where, std::int64_t round_id) {
    return read(op, [&] {
      SQLite::Statement q(db_, std::string("SELECT ") + kResponseColumns + " FROM survey_response " + where);
      q.bind(1, round_id);
      std::vector<SurveyResponse> out;
      while (q.executeStep()) out.push_back(read_response(q, cipher_.get()));
      return out;
    });
  }

  std::int64_t upsert_response(const SurveyTurnWrite& turn, const SurveyResponse& r, std::int64_t now_ms) {
    std::string key = respondent_key(r, turn.channel, turn.user_id, cipher_.get());
    const std::string birth = seal_field(cipher_.get(), r.birth_date, kBirth);
    const std::string answers = seal_field(cipher_.get(), r.answers, kAnswers);
    SQLite::Statement find(db_, "SELECT id FROM survey_response WHERE round_id = ?1 AND respondent_key = ?2");
    find.bind(1, turn.round_id);
    find.bind(2, key);
    if (find.executeStep()) {
      std::int64_t id = find.getColumn(0).getInt64();
      SQLite::Statement keep(db_,
                             "INSERT INTO survey_response_history (response_id, revision, channel, user_id, interview_date, "
                             "age_months, recall_shifted, answers, saved_ms, replaced_ms) SELECT id, revision, channel, "
                             "user_id, interview_date, age_months, recall_shifted, answers, updated_ms, ?2 FROM "
                             "survey_response WHERE id = ?1");
      keep.bind(1, id);
      keep.bind(2, now_ms);
      keep.exec();
      SQLite::Statement upd(db_,
                            "UPDATE survey_response SET unit_code = ?2, birth_date = ?3, channel = ?4, user_id = ?5, "
                            "interview_date = ?6, age_months = ?7, recall_shifted = ?8, answers = ?9, revision = revision + 1, "
                            "updated_ms = ?10 WHERE id = ?1");
      upd.bind(1, id);
      upd.bind(2, r.unit_code);
      upd.bind(3, birth);
      upd.bind(4, turn.channel);
      upd.bind(5, turn.user_id);
      upd.bind(6, r.interview_date);
      upd.bind(7, r.age_months);
      upd.bind(8, r.recall_shifted ? 1 : 0);
      upd.bind(9, answers);
      upd.bind(10, now_ms);
      upd.exec();
      return id;
    }
    SQLite::Statement ins(db_,
                          "INSERT INTO survey_response (round_id, respondent_key, child_id, unit_code, birth_date, channel, "
                          "user_id, interview_date, age_months, recall_shifted, answers, created_ms, updated_ms) VALUES "
                          "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)");
    ins.bind(1, turn.round_id);
    ins.bind(2, key);
    ins.bind(3, r.child_id);
    ins.bind(4, r.unit_code);
    ins.bind(5, birth);
    ins.bind(6, turn.channel);
    ins.bind(7, turn.user_id);
    ins.bind(8, r.interview_date);
    ins.bind(9, r.age_months);
    ins.bind(10, r.recall_shifted ? 1 : 0);
    ins.bind(11, answers);
    ins.bind(12, now_ms);
    ins.exec();
    return db_.getLastInsertRowid();
  }

  std::shared_ptr<const FieldCipher> cipher_;  // sealed personal fields (field_cipher.h); null = plain
};

}  // namespace

Result<std::unique_ptr<SurveyStore>> open_sqlite_survey_store(const Settings& settings) {
  auto db = open_sqlite_connection(settings, "the surveys");
  if (!db) return db.error();
  return std::unique_ptr<SurveyStore>(std::make_unique<SqliteSurveyStore>(settings.path, std::move(*db), settings.field_cipher));
}

}  // namespace yuer::store
