// The SQLite GroupStore: its own connection to the store file (WAL lets it write beside the other
// parts' connections).
#include "daemon/store/group_store.h"

#include "daemon/store/sqlite_store.h"

namespace yuer::store {
namespace {

constexpr const char* kGroupColumns =
    "id, kind, unit_code, name, chat_id, route, robot, owner, soft_cap, hard_cap, members, member_version, state, "
    "synced_ms, created_ms, updated_ms";

ChatGroup read_group(SQLite::Statement& q) {
  ChatGroup g;
  g.id = q.getColumn(0).getInt64();
  g.kind = q.getColumn(1).getString();
  g.unit_code = q.getColumn(2).getString();
  g.name = q.getColumn(3).getString();
  g.chat_id = q.getColumn(4).getString();
  g.route = q.getColumn(5).getString();
  g.robot = q.getColumn(6).getString();
  g.owner = q.getColumn(7).getString();
  g.soft_cap = q.getColumn(8).getInt();
  g.hard_cap = q.getColumn(9).getInt();
  g.members = q.getColumn(10).getInt();
  g.member_version = q.getColumn(11).getString();
  g.state = q.getColumn(12).getString();
  g.synced_ms = q.getColumn(13).getInt64();
  g.created_ms = q.getColumn(14).getInt64();
  g.updated_ms = q.getColumn(15).getInt64();
  return g;
}

JoinWayRow read_join_way(SQLite::Statement& q) {
  JoinWayRow w;
  w.unit_code = q.getColumn(0).getString();
  w.config_id = q.getColumn(1).getString();
  w.state = q.getColumn(2).getString();
  w.qr_code = q.getColumn(3).getString();
  w.chat_ids = split_semicolon(q.getColumn(4).getString());
  w.asked_ms = q.getColumn(5).getInt64();
  w.updated_ms = q.getColumn(6).getInt64();
  return w;
}

constexpr const char* kJoinWayColumns = "unit_code, config_id, state, qr_code, chat_ids, asked_ms, updated_ms";

class SqliteGroupStore final : public GroupStore, SqliteConnection {
 public:
  SqliteGroupStore(std::string path, SQLite::Database db) : SqliteConnection(std::move(path), std::move(db), "groups") {}

  std::vector<ChatGroup> groups(const std::string& kind, const std::string& unit_prefix) override {
    return read("list", [&] {
      SQLite::Statement q(db_, std::string("SELECT ") + kGroupColumns +
                                   " FROM chat_group WHERE (?1 = '' OR kind = ?1) AND unit_code >= ?2 AND "
                                   "unit_code < ?3 ORDER BY id");
      q.bind(1, kind);
      q.bind(2, unit_prefix);
      q.bind(3, unit_prefix + "\x7f");
      std::vector<ChatGroup> out;
      while (q.executeStep()) out.push_back(read_group(q));
      return out;
    });
  }

  std::optional<ChatGroup> group(std::int64_t id) override {
    return read("get", [&]() -> std::optional<ChatGroup> {
      SQLite::Statement q(db_, std::string("SELECT ") + kGroupColumns + " FROM chat_group WHERE id = ?1");
      q.bind(1, id);
      if (!q.executeStep()) return std::nullopt;
      return read_group(q);
    });
  }

  std::optional<ChatGroup> group_by_chat(const std::string& chat_id) override {
    return read("get by chat", [&]() -> std::optional<ChatGroup> {
      if (chat_id.empty()) return std::nullopt;
      SQLite::Statement q(db_, std::string("SELECT ") + kGroupColumns + " FROM chat_group WHERE chat_id = ?1");
      q.bind(1, chat_id);
      if (!q.executeStep()) return std::nullopt;
      return read_group(q);
    });
  }

  Result<std::int64_t> put_group(const ChatGroup& g, std::int64_t now_ms) override {
    return write("put", [&]() -> Result<std::int64_t> {
      if (!g.chat_id.empty()) {
        SQLite::Statement dup(db_, "SELECT id FROM chat_group WHERE chat_id = ?1 AND id <> ?2");
        dup.bind(1, g.chat_id);
        dup.bind(2, g.id);
        if (dup.executeStep())
          return Error{"groups.duplicate_chat",
                       "chat id already belongs to group " + std::to_string(dup.getColumn(0).getInt64())};
      }
      SQLite::Statement q(db_,
                          g.id == 0
                              ? "INSERT INTO chat_group (kind, unit_code, name, chat_id, route, robot, owner, soft_cap, "
                                "hard_cap, members, member_version, state, synced_ms, created_ms, updated_ms) VALUES "
                                "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)"
                              : "UPDATE chat_group SET kind = ?1, unit_code = ?2, name = ?3, chat_id = ?4, route = ?5, "
                                "robot = ?6, owner = ?7, soft_cap = ?8, hard_cap = ?9, members = ?10, "
                                "member_version = ?11, state = ?12, synced_ms = ?13, updated_ms = ?14 WHERE id = ?15");
      q.bind(1, g.kind);
      q.bind(2, g.unit_code);
      q.bind(3, g.name);
      q.bind(4, g.chat_id);
      q.bind(5, g.route);
      q.bind(6, g.robot);
      q.bind(7, g.owner);
      q.bind(8, g.soft_cap);
      q.bind(9, g.hard_cap);
      q.bind(10, g.members);
      q.bind(11, g.member_version);
      q.bind(12, g.state);
      q.bind(13, g.synced_ms);
      q.bind(14, now_ms);
      if (g.id != 0) q.bind(15, g.id);
      q.exec();
      return g.id == 0 ? db_.getLastInsertRowid() : g.id;
    });
  }

  void write_members(std::int64_t group_id, const std::vector<GroupMember>& members, const std::string& member_version,
                     const std::string& state, std::int64_t now_ms) override {
    write("write members", [&] {
      SQLite::Statement chat(db_, "SELECT chat_id FROM chat_group WHERE id = ?1");
      chat.bind(1, group_id);
      if (!chat.executeStep()) return 0;
      const std::string chat_id = chat.getColumn(0).getString();
      SQLite::Statement del(db_, "DELETE FROM group_member WHERE chat_id = ?1");
      del.bind(1, chat_id);
      del.exec();
      SQLite::Statement ins(db_,
                            "INSERT OR REPLACE INTO group_member (chat_id, userid, type, join_time, state) "
                            "VALUES (?1, ?2, ?3, ?4, ?5)");
      for (const auto& m : members) {
        ins.bind(1, chat_id);
        ins.bind(2, m.userid);
        ins.bind(3, m.type);
        ins.bind(4, m.join_time);
        ins.bind(5, m.state);
        ins.exec();
        ins.reset();
      }
      SQLite::Statement up(db_,
                           "UPDATE chat_group SET members = ?1, member_version = ?2, state = ?3, synced_ms = ?4, "
                           "updated_ms = ?4 WHERE id = ?5");
      up.bind(1, static_cast<int>(members.size()));
      up.bind(2, member_version);
      up.bind(3, state);
      up.bind(4, now_ms);
      up.bind(5, group_id);
      up.exec();
      return 0;
    });
  }

  std::vector<GroupMember> members(const std::string& chat_id) override {
    return read("members", [&] {
      SQLite::Statement q(db_, "SELECT userid, type, join_time, state FROM group_member WHERE chat_id = ?1 ORDER BY userid");
      q.bind(1, chat_id);
      std::vector<GroupMember> out;
      while (q.executeStep())
        out.push_back({q.getColumn(0).getString(), q.getColumn(1).getInt(), q.getColumn(2).getInt64(),
                       q.getColumn(3).getString()});
      return out;
    });
  }

  GroupFamilies families_of(const std::string& chat_id, const std::string& township_state) override {
    return read("families", [&] {
      SQLite::Statement q(db_,
                          "SELECT COUNT(*), "
                          "COUNT(f.child_id), "
                          "SUM(CASE WHEN f.child_id IS NULL AND m.state = ?2 AND ?2 <> '' THEN 1 ELSE 0 END) "
                          "FROM group_member m LEFT JOIN (SELECT external_userid, MIN(child_id) AS child_id "
                          "FROM family WHERE external_userid <> '' GROUP BY external_userid) f "
                          "ON f.external_userid = m.userid WHERE m.chat_id = ?1 AND m.type = 2");
      q.bind(1, chat_id);
      q.bind(2, township_state);
      GroupFamilies out;
      if (q.executeStep()) {
        out.parents = q.getColumn(0).getInt();
        out.matched = q.getColumn(1).getInt();
        out.state_matched = q.getColumn(2).getInt();
      }
      return out;
    });
  }

  std::optional<JoinWayRow> join_way(const std::string& unit_code) override {
    return read("join way", [&]() -> std::optional<JoinWayRow> {
      SQLite::Statement q(db_, std::string("SELECT ") + kJoinWayColumns + " FROM join_way WHERE unit_code = ?1");
      q.bind(1, unit_code);
      if (!q.executeStep()) return std::nullopt;
      return read_join_way(q);
    });
  }

  std::vector<JoinWayRow> join_ways() override {
    return read("join ways", [&] {
      SQLite::Statement q(db_, std::string("SELECT ") + kJoinWayColumns + " FROM join_way ORDER BY unit_code");
      std::vector<JoinWayRow> out;
      while (q.executeStep()) out.push_back(read_join_way(q));
      return out;
    });
  }

  void put_join_way(const JoinWayRow& w, std::int64_t now_ms) override {
    write("put join way", [&] {
      SQLite::Statement q(db_,
                          "INSERT INTO join_way (unit_code, config_id, state, qr_code, chat_ids, asked_ms, updated_ms) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (unit_code) DO UPDATE SET "
                          "config_id = excluded.config_id, state = excluded.state, qr_code = excluded.qr_code, "
                          "chat_ids = excluded.chat_ids, asked_ms = excluded.asked_ms, updated_ms = excluded.updated_ms");
      q.bind(1, w.unit_code);
      q.bind(2, w.config_id);
      q.bind(3, w.state);
      q.bind(4, w.qr_code);
      q.bind(5, join_semicolon(w.chat_ids));
      q.bind(6, w.asked_ms);
      q.bind(7, now_ms);
      q.exec();
      return 0;
    });
  }

  std::int64_t add_alert(const GroupAlert& a) override {
    return write("add alert", [&] {
      SQLite::Statement q(db_,
                          "INSERT INTO group_alert (chat_id, unit_code, kind, members, created_ms) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)");
      q.bind(1, a.chat_id);
      q.bind(2, a.unit_code);
      q.bind(3, a.kind);
      q.bind(4, a.members);
      q.bind(5, a.created_ms);
      q.exec();
      return db_.getLastInsertRowid();
    });
  }

  std::vector<GroupAlert> alerts(std::int64_t after_id, int limit) override {
    return read("alerts", [&] {
      SQLite::Statement q(db_,
                          "SELECT id, chat_id, unit_code, kind, members, created_ms FROM group_alert WHERE id > ?1 "
                          "ORDER BY id LIMIT ?2");
      q.bind(1, after_id);
      q.bind(2, limit);
      std::vector<GroupAlert> out;
      while (q.executeStep())
        out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                       q.getColumn(3).getString(), q.getColumn(4).getInt(), q.getColumn(5).getInt64()});
      return out;
    });
  }
};

}  // namespace

Result<std::unique_ptr<GroupStore>> open_sqlite_group_store(const Settings& settings) {
  auto db = open_sqlite_connection(settings, "the groups");
  if (!db) return db.error();
  return std::unique_ptr<GroupStore>(std::make_unique<SqliteGroupStore>(settings.path, std::move(*db)));
}

}  // namespace yuer::store
