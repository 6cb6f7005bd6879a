// The SQLite KfStore: its own connection to the store file (WAL lets it write next to the inbox's
// and the outbox's connections; busy_timeout covers the short lock waits).
#include "daemon/store/kf_store.h"

#include "daemon/store/sqlite_store.h"

#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>

#include <set>
#include <utility>

namespace yuer::store {
namespace {

class SqliteKfStore final : public KfStore, private SqliteConnection {
 public:
  SqliteKfStore(std::string path, SQLite::Database db) : SqliteConnection(std::move(path), std::move(db), "kf") {}

  std::optional<std::string> cursor(const std::string& open_kfid) override {
    return read("cursor", [&]() -> std::optional<std::string> {
      SQLite::Statement q(db_, "SELECT cursor FROM kf_cursor WHERE open_kfid = ?1");
      q.bind(1, open_kfid);
      if (!q.executeStep()) return std::nullopt;
      return q.getColumn(0).getString();
    });
  }

  std::vector<KfParent> apply_page(const std::string& open_kfid, const std::string& next_cursor,
                                   const std::vector<KfCustomerMessage>& messages, std::int64_t now_ms) override {
    return write("apply_page", [&] {
      std::vector<KfParent> moved;
      std::set<std::pair<std::string, std::string>> seen;
      SQLite::Statement get(db_, "SELECT last_customer_ms FROM kf_window WHERE open_kfid = ?1 AND external_userid = ?2");
      SQLite::Statement up(db_,
                           "INSERT INTO kf_window (open_kfid, external_userid, last_customer_ms, updated_ms) "
                           "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (open_kfid, external_userid) DO UPDATE SET "
                           "last_customer_ms = excluded.last_customer_ms, blocked_ms = 0, updated_ms = excluded.updated_ms "
                           "WHERE excluded.last_customer_ms > kf_window.last_customer_ms");
      // KfSync's inbox rows (adapters/kf/kf_sync.cpp): receiver "kf", dedupe key "msg:<msgid>".
      SQLite::Statement stored(db_, "SELECT 1 FROM inbox WHERE receiver = 'kf' AND dedupe_key = ?1");
      for (const auto& m : messages) {
        get.bind(1, m.open_kfid);
        get.bind(2, m.external_userid);
        const std::int64_t last = get.executeStep() ? get.getColumn(0).getInt64() : 0;
        get.reset();
        std::int64_t to = m.send_ms;
        if (last > 0 && m.send_ms <= last && !m.msgid.empty() && m.send_ms / 1000 == last / 1000) {
          // The same second as the window's message: another message (a new window) unless the
          // inbox already has it (a replayed page).
          stored.bind(1, "msg:" + m.msgid);
          const bool replay = stored.executeStep();
          stored.reset();
          if (!replay) to = last + 1;
        }
        up.bind(1, m.open_kfid);
        up.bind(2, m.external_userid);
        up.bind(3, to);
        up.bind(4, now_ms);
        up.exec();
        up.reset();
        if (db_.getChanges() == 1 && seen.insert({m.open_kfid, m.external_userid}).second)
          moved.push_back({m.open_kfid, m.external_userid});
      }
      if (!next_cursor.empty()) {
        SQLite::Statement c(db_,
                            "INSERT INTO kf_cursor (open_kfid, cursor, updated_ms) VALUES (?1, ?2, ?3) "
                            "ON CONFLICT (open_kfid) DO UPDATE SET cursor = excluded.cursor, updated_ms = excluded.updated_ms");
        c.bind(1, open_kfid);
        c.bind(2, next_cursor);
        c.bind(3, now_ms);
        c.exec();
      }
      return moved;
    });
  }

  KfWindow window(const std::string& open_kfid, const std::string& external_userid, const std::string& msgid) override {
    return read("window", [&] {
      KfWindow w;
      SQLite::Statement q(db_,
                          "SELECT last_customer_ms, blocked_ms FROM kf_window WHERE open_kfid = ?1 AND external_userid = ?2");
      q.bind(1, open_kfid);
      q.bind(2, external_userid);
      if (!q.executeStep()) return w;
      w.last_customer_ms = q.getColumn(0).getInt64();
      w.blocked_ms = q.getColumn(1).getInt64();
      SQLite::Statement n(db_,
                          "SELECT count(*), coalesce(sum(msgid = ?4), 0) FROM kf_send "
                          "WHERE open_kfid = ?1 AND external_userid = ?2 AND window_ms = ?3");
      n.bind(1, open_kfid);
      n.bind(2, external_userid);
      n.bind(3, w.last_customer_ms);
      n.bind(4, msgid);
      n.executeStep();
      w.sends = n.getColumn(0).getInt();
      w.counted = n.getColumn(1).getInt() > 0;
      return w;
    });
  }

  void count_send(const std::string& open_kfid, const std::string& external_userid, const std::string& msgid,
                  std::int64_t window_ms, std::int64_t now_ms) override {
    write("count_send", [&] {
      SQLite::Statement q(db_,
                          "INSERT INTO kf_send (open_kfid, msgid, external_userid, window_ms, reserved_ms) "
                          "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (open_kfid, msgid) DO UPDATE SET "
                          "window_ms = excluded.window_ms, reserved_ms = excluded.reserved_ms");
      q.bind(1, open_kfid);
      q.bind(2, msgid);
      q.bind(3, external_userid);
      q.bind(4, window_ms);
      q.bind(5, now_ms);
      q.exec();
      return 0;
    });
  }

  void mark_accepted(const std::string& open_kfid, const std::string& msgid, std::int64_t now_ms) override {
    write("mark_accepted", [&] {
      SQLite::Statement q(db_, "UPDATE kf_send SET accepted_ms = ?3 WHERE open_kfid = ?1 AND msgid = ?2");
      q.bind(1, open_kfid);
      q.bind(2, msgid);
      q.bind(3, now_ms);
      q.exec();
      return 0;
    });
  }

  void uncount_send(const std::string& open_kfid, const std::string& msgid) override {
    write("uncount_send", [&] {
      SQLite::Statement q(db_, "DELETE FROM kf_send WHERE open_kfid = ?1 AND msgid = ?2 AND accepted_ms = 0");
      q.bind(1, open_kfid);
      q.bind(2, msgid);
      q.exec();
      return 0;
    });
  }

  void block_window(const std::string& open_kfid, const std::string& external_userid, std::int64_t window_ms,
                    std::int64_t now_ms) override {
    write("block_window", [&] {
      // A parent WeCom knows but we never saw write (window_ms 0) gets a row, so the block holds.
      SQLite::Statement q(db_,
                          "INSERT INTO kf_window (open_kfid, external_userid, last_customer_ms, blocked_ms, updated_ms) "
                          "VALUES (?1, ?2, ?3, ?3, ?4) ON CONFLICT (open_kfid, external_userid) DO UPDATE SET "
                          "blocked_ms = excluded.blocked_ms, updated_ms = excluded.updated_ms "
                          "WHERE kf_window.last_customer_ms = excluded.last_customer_ms");
      q.bind(1, open_kfid);
      q.bind(2, external_userid);
      q.bind(3, window_ms);
      q.bind(4, now_ms);
      q.exec();
      return 0;
    });
  }

};

}  // namespace

Result<std::unique_ptr<KfStore>> open_sqlite_kf_store(const Settings& settings) {
  auto db = open_sqlite_connection(settings, "the kf state");
  if (!db) return db.error();
  return std::unique_ptr<KfStore>(std::make_unique<SqliteKfStore>(settings.path, std::move(*db)));
}

}  // namespace yuer::store
