// The SQLite ScheduleStore: its own connection to the store file (WAL lets it write beside the other
// parts' connections).
#include "daemon/store/schedule_store.h"

#include "daemon/store/sqlite_store.h"

#include <algorithm>

namespace yuer::store {
namespace {

constexpr const char* kScheduleColumns =
    "id, name, state, spec, source, watermark_ms, last_at_ms, created_ms, updated_ms";
constexpr const char* kPushColumns =
    "id, schedule_id, at_ms, local_date, target, chat_id, unit_code, route, address, lesson_id, band, state, reason, "
    "outbox_id, idempotency_key, created_ms, updated_ms";

ScheduleRow read_schedule(SQLite::Statement& q) {
  ScheduleRow r;
  r.id = q.getColumn(0).getString();
  r.name = q.getColumn(1).getString();
  r.state = q.getColumn(2).getString();
  r.spec = q.getColumn(3).getString();
  r.source = q.getColumn(4).getString();
  r.watermark_ms = q.getColumn(5).getInt64();
  r.last_at_ms = q.getColumn(6).getInt64();
  r.created_ms = q.getColumn(7).getInt64();
  r.updated_ms = q.getColumn(8).getInt64();
  return r;
}

SchedulePush read_push(SQLite::Statement& q) {
  SchedulePush p;
  p.id = q.getColumn(0).getInt64();
  p.schedule_id = q.getColumn(1).getString();
  p.at_ms = q.getColumn(2).getInt64();
  p.local_date = q.getColumn(3).getString();
  p.target = q.getColumn(4).getString();
  p.chat_id = q.getColumn(5).getString();
  p.unit_code = q.getColumn(6).getString();
  p.route = q.getColumn(7).getString();
  p.address = q.getColumn(8).getString();
  p.lesson_id = q.getColumn(9).getString();
  p.band = q.getColumn(10).getInt();
  p.state = q.getColumn(11).getString();
  p.reason = q.getColumn(12).getString();
  p.outbox_id = q.getColumn(13).getInt64();
  p.idempotency_key = q.getColumn(14).getString();
  p.created_ms = q.getColumn(15).getInt64();
  p.updated_ms = q.getColumn(16).getInt64();
  return p;
}

class SqliteScheduleStore final : public ScheduleStore, SqliteConnection {
 public:
  SqliteScheduleStore(std::string path, SQLite::Database db)
      : SqliteConnection(std::move(path), std::move(db), "schedules") {}

  std::vector<ScheduleRow> schedules() override {
    return read("list", [&] {
      SQLite::Statement q(db_, std::string("SELECT ") + kScheduleColumns + " FROM schedule ORDER BY id");
      std::vector<ScheduleRow> out;
      while (q.executeStep()) out.push_back(read_schedule(q));
      return out;
    });
  }

  std::optional<ScheduleRow> schedule(const std::string& id) override {
    return read("get", [&]() -> std::optional<ScheduleRow> {
      SQLite::Statement q(db_, std::string("SELECT ") + kScheduleColumns + " FROM schedule WHERE id = ?1");
      q.bind(1, id);
      if (!q.executeStep()) return std::nullopt;
      return read_schedule(q);
    });
  }

  void put_schedule(const ScheduleRow& row, bool reset_state, std::int64_t now_ms) override {
    write("put", [&] {
      SQLite::Statement q(db_,
                          "INSERT INTO schedule (id, name, state, spec, source, watermark_ms, last_at_ms, created_ms, "
                          "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) ON CONFLICT (id) DO UPDATE SET "
                          "name = excluded.name, spec = excluded.spec, source = excluded.source, "
                          "updated_ms = excluded.updated_ms, "
                          "state = CASE WHEN ?9 THEN excluded.state ELSE state END, "
                          "watermark_ms = CASE WHEN ?9 THEN excluded.watermark_ms ELSE watermark_ms END, "
                          "last_at_ms = CASE WHEN ?9 THEN excluded.last_at_ms ELSE last_at_ms END");
      q.bind(1, row.id);
      q.bind(2, row.name);
      q.bind(3, row.state);
      q.bind(4, row.spec);
      q.bind(5, row.source);
      q.bind(6, static_cast<std::int64_t>(row.watermark_ms));
      q.bind(7, static_cast<std::int64_t>(row.last_at_ms));
      q.bind(8, static_cast<std::int64_t>(now_ms));
      q.bind(9, reset_state ? 1 : 0);
      q.exec();
      return 0;
    });
  }

  bool set_state(const std::string& id, const std::string& state, std::int64_t now_ms) override {
    return write("set state", [&] {
      SQLite::Statement q(db_, "UPDATE schedule SET state = ?2, updated_ms = ?3 WHERE id = ?1");
      q.bind(1, id);
      q.bind(2, state);
      q.bind(3, static_cast<std::int64_t>(now_ms));
      return q.exec() > 0;
    });
  }

  void commit_occurrence(const OccurrenceCommit& c) override {
    write("commit occurrence", [&] {
      const auto& o = c.occurrence;
      SQLite::Statement log(db_,
                            "INSERT INTO schedule_occurrence (schedule_id, nominal_ms, at_ms, state, pushes, reason, "
                            "logged_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING");
      log.bind(1, o.schedule_id);
      log.bind(2, static_cast<std::int64_t>(o.nominal_ms));
      log.bind(3, static_cast<std::int64_t>(o.at_ms));
      log.bind(4, o.state);
      log.bind(5, o.pushes);
      log.bind(6, o.reason);
      log.bind(7, static_cast<std::int64_t>(o.logged_ms));
      log.exec();
      SQLite::Statement ins(db_,
                            "INSERT INTO schedule_push (schedule_id, at_ms, local_date, target, chat_id, unit_code, "
                            "route, address, lesson_id, band, state, reason, outbox_id, idempotency_key, created_ms, "
                            "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                            "?15) ON CONFLICT (idempotency_key) DO NOTHING");
      for (const auto& p : c.pushes) {
        ins.reset();
        ins.bind(1, p.schedule_id);
        ins.bind(2, static_cast<std::int64_t>(p.at_ms));
        ins.bind(3, p.local_date);
        ins.bind(4, p.target);
        ins.bind(5, p.chat_id);
        ins.bind(6, p.unit_code);
        ins.bind(7, p.route);
        ins.bind(8, p.address);
        ins.bind(9, p.lesson_id);
        ins.bind(10, p.band);
        ins.bind(11, p.state);
        ins.bind(12, p.reason);
        ins.bind(13, static_cast<std::int64_t>(p.outbox_id));
        ins.bind(14, p.idempotency_key);
        ins.bind(15, static_cast<std::int64_t>(o.logged_ms));
        ins.exec();
      }
      SQLite::Statement wm(db_,
                           "UPDATE schedule SET watermark_ms = MAX(watermark_ms, ?2), last_at_ms = MAX(last_at_ms, ?3), "
                           "updated_ms = ?4 WHERE id = ?1");
      wm.bind(1, o.schedule_id);
      wm.bind(2, static_cast<std::int64_t>(o.nominal_ms));
      wm.bind(3, static_cast<std::int64_t>(o.at_ms));
      wm.bind(4, static_cast<std::int64_t>(o.logged_ms));
      wm.exec();
      return 0;
    });
  }

  std::vector<SchedulePush> planned() override {
    return select("planned", " WHERE state = 'planned' ORDER BY at_ms, id", {});
  }

  void mark_push(std::int64_t id, const std::string& state, std::int64_t outbox_id, const std::string& reason,
                 std::int64_t now_ms) override {
    write("mark push", [&] {
      SQLite::Statement q(db_,
                          "UPDATE schedule_push SET state = ?2, outbox_id = ?3, reason = ?4, updated_ms = ?5 "
                          "WHERE id = ?1");
      q.bind(1, static_cast<std::int64_t>(id));
      q.bind(2, state);
      q.bind(3, static_cast<std::int64_t>(outbox_id));
      q.bind(4, reason);
      q.bind(5, static_cast<std::int64_t>(now_ms));
      q.exec();
      return 0;
    });
  }

  std::vector<SchedulePush> history(const std::string& target) override {
    return select("history", " WHERE target = ?1 AND state IN ('planned', 'enqueued') ORDER BY at_ms, id", {target});
  }

  std::vector<SchedulePush> all_history() override {
    return select("history", " WHERE state IN ('planned', 'enqueued') ORDER BY target, at_ms, id", {});
  }

  std::vector<SchedulePush> pushes(const PushQuery& pq) override {
    return read("pushes", [&] {
      SQLite::Statement q(db_, std::string("SELECT ") + kPushColumns +
                                   " FROM schedule_push WHERE unit_code >= ?1 AND unit_code < ?2 AND "
                                   "(?3 = '' OR schedule_id = ?3) AND at_ms >= ?4 ORDER BY at_ms, id LIMIT ?5");
      q.bind(1, pq.unit_prefix);
      q.bind(2, pq.unit_prefix + "\x7f");
      q.bind(3, pq.schedule_id);
      q.bind(4, static_cast<std::int64_t>(pq.since_ms));
      q.bind(5, std::clamp(pq.limit, 1, 100000));
      std::vector<SchedulePush> out;
      while (q.executeStep()) out.push_back(read_push(q));
      return out;
    });
  }

  std::vector<ScheduleOccurrence> occurrences(const std::string& schedule_id, int limit) override {
    return read("occurrences", [&] {
      SQLite::Statement q(db_,
                          "SELECT schedule_id, nominal_ms, at_ms, state, pushes, reason, logged_ms FROM "
                          "schedule_occurrence WHERE (?1 = '' OR schedule_id = ?1) ORDER BY nominal_ms, schedule_id "
                          "LIMIT ?2");
      q.bind(1, schedule_id);
      q.bind(2, std::clamp(limit, 1, 100000));
      std::vector<ScheduleOccurrence> out;
      while (q.executeStep()) {
        ScheduleOccurrence o;
        o.schedule_id = q.getColumn(0).getString();
        o.nominal_ms = q.getColumn(1).getInt64();
        o.at_ms = q.getColumn(2).getInt64();
        o.state = q.getColumn(3).getString();
        o.pushes = q.getColumn(4).getInt();
        o.reason = q.getColumn(5).getString();
        o.logged_ms = q.getColumn(6).getInt64();
        out.push_back(std::move(o));
      }
      return out;
    });
  }

  std::vector<GroupChild> group_children(const std::string& chat_id) override {
    return read("group children", [&] {
      SQLite::Statement q(db_,
                          "SELECT f.child_id, f.birth_date, f.tags FROM group_member m JOIN family f ON "
                          "f.external_userid = m.userid AND f.external_userid <> '' WHERE m.chat_id = ?1 AND "
                          "m.type = 2 ORDER BY f.child_id");
      q.bind(1, chat_id);
      std::vector<GroupChild> out;
      while (q.executeStep())
        out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), split_semicolon(q.getColumn(2).getString())});
      return out;
    });
  }

 private:
  std::vector<SchedulePush> select(const char* op, const std::string& where, const std::vector<std::string>& args) {
    return read(op, [&] {
      SQLite::Statement q(db_, std::string("SELECT ") + kPushColumns + " FROM schedule_push" + where);
      for (std::size_t i = 0; i < args.size(); ++i) q.bind(static_cast<int>(i + 1), args[i]);
      std::vector<SchedulePush> out;
      while (q.executeStep()) out.push_back(read_push(q));
      return out;
    });
  }
};

}  // namespace

Result<std::unique_ptr<ScheduleStore>> open_sqlite_schedule_store(const Settings& settings) {
  auto db = open_sqlite_connection(settings, "the schedules");
  if (!db) return db.error();
  return std::unique_ptr<ScheduleStore>(std::make_unique<SqliteScheduleStore>(settings.path, std::move(*db)));
}

}  // namespace yuer::store
