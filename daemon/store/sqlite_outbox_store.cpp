// The SQLite OutboxStore: its own connection to the store file (WAL lets it write next to the
// inbox's connection; busy_timeout covers the short lock waits).
#include "daemon/store/outbox_store.h"

#include "daemon/store/sqlite_store.h"

#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>

namespace yuer::store {
namespace {

using model::OutboxState;

constexpr const char* kColumns =
    "id, route, target, kind, content, idempotency_key, part, parts, state, attempts, next_attempt_ms, "
    "expire_at_ms, created_ms, updated_ms, sent_ms, last_errcode, last_reason, remote_id, resends";

OutboxRow read_row(SQLite::Statement& q) {
  OutboxRow r;
  r.item.id = q.getColumn(0).getInt64();
  r.item.route = q.getColumn(1).getString();
  r.item.target = q.getColumn(2).getString();
  model::parse_content_kind(q.getColumn(3).getString(), r.item.kind);
  r.item.content = q.getColumn(4).getString();
  r.item.idempotency_key = q.getColumn(5).getString();
  r.item.part = q.getColumn(6).getInt();
  r.item.parts = q.getColumn(7).getInt();
  model::parse_outbox_state(q.getColumn(8).getString(), r.state);
  r.item.attempts = q.getColumn(9).getInt();
  r.next_attempt_ms = q.getColumn(10).getInt64();
  r.expire_at_ms = q.getColumn(11).getInt64();
  r.created_ms = q.getColumn(12).getInt64();
  r.updated_ms = q.getColumn(13).getInt64();
  r.sent_ms = q.getColumn(14).getInt64();
  r.last_errcode = q.getColumn(15).getInt();
  r.last_reason = q.getColumn(16).getString();
  r.remote_id = q.getColumn(17).getString();
  r.resends = q.getColumn(18).getInt();
  return r;
}

class SqliteOutboxStore final : public OutboxStore, private SqliteConnection {
  void on_write_error() noexcept override {
    for (auto* s : {&insert_, &find_key_, &mark_, &finish_}) {
      try {
        s->reset();
      } catch (...) {
      }
    }
  }

 public:
  SqliteOutboxStore(std::string path, SQLite::Database db)
      : SqliteConnection(std::move(path), std::move(db), "outbox"),
        insert_(db_,
                "INSERT INTO outbox (route, target, kind, content, idempotency_key, part, parts, expire_at_ms, "
                "created_ms, updated_ms, next_attempt_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9) "
                "ON CONFLICT (idempotency_key) DO NOTHING"),
        find_key_(db_, "SELECT id FROM outbox WHERE idempotency_key = ?1"),
        mark_(db_,
              "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_ms = ?2 "
              "WHERE id = ?1 AND state = 'queued'"),
        finish_(db_,
                "UPDATE outbox SET state = ?2, next_attempt_ms = ?3, last_errcode = ?4, last_reason = ?5, attempts = attempts - ?8, "
                "remote_id = CASE WHEN ?6 = '' THEN remote_id ELSE ?6 END, updated_ms = ?7, "
                "sent_ms = CASE WHEN ?2 = 'sent' THEN ?7 ELSE sent_ms END "
                "WHERE id = ?1 AND state <> 'sent'") {}

  std::vector<EnqueueResult> enqueue(const std::vector<NewOutboxItem>& items, std::int64_t now_ms) override {
    return write("enqueue", [&] {
      std::vector<EnqueueResult> out;
      for (const auto& n : items) {
        const auto& i = n.item;
        insert_.bind(1, i.route);
        insert_.bind(2, i.target);
        insert_.bind(3, std::string(model::to_string(i.kind)));
        insert_.bind(4, i.content);
        insert_.bind(5, i.idempotency_key);
        insert_.bind(6, i.part);
        insert_.bind(7, i.parts);
        insert_.bind(8, n.expire_at_ms);
        insert_.bind(9, now_ms);
        insert_.exec();
        insert_.reset();
        if (db_.getChanges() == 1) {
          out.push_back({db_.getLastInsertRowid(), false});
        } else {
          find_key_.bind(1, i.idempotency_key);
          find_key_.executeStep();
          out.push_back({find_key_.getColumn(0).getInt64(), true});
          find_key_.reset();
        }
      }
      return out;
    });
  }

  std::vector<RecentSend> recent_sends(std::int64_t since_ms) override {
    return read("recent", [&] {
      SQLite::Statement q(db_,
                          "SELECT route, target, sent_ms FROM outbox WHERE state = 'sent' AND sent_ms >= ?1 "
                          "UNION ALL SELECT route, target, updated_ms FROM outbox WHERE state = 'sending' ORDER BY 3");
      q.bind(1, since_ms);
      std::vector<RecentSend> out;
      while (q.executeStep()) out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt64()});
      return out;
    });
  }

  std::vector<std::int64_t> requeue_sending(std::int64_t now_ms) override {
    return write("requeue", [&] {
      std::vector<std::int64_t> ids;
      SQLite::Statement q(db_, "SELECT id FROM outbox WHERE state = 'sending' ORDER BY id");
      while (q.executeStep()) ids.push_back(q.getColumn(0).getInt64());
      SQLite::Statement u(db_,
                          "UPDATE outbox SET state = 'queued', resends = resends + 1, updated_ms = ?1, "
                          "next_attempt_ms = 0 WHERE state = 'sending'");
      u.bind(1, now_ms);
      u.exec();
      return ids;
    });
  }

  std::vector<OutboxRow> load_open() override {
    return read("load", [&] {
      std::vector<OutboxRow> out;
      SQLite::Statement q(db_, fmt::format("SELECT {} FROM outbox WHERE state IN ('queued', 'sending') ORDER BY id",
                                           kColumns));
      while (q.executeStep()) out.push_back(read_row(q));
      return out;
    });
  }

  std::vector<std::int64_t> mark_sending(const std::vector<std::int64_t>& ids, std::int64_t now_ms) override {
    return write("mark_sending", [&] {
      std::vector<std::int64_t> out;
      for (auto id : ids) {
        mark_.bind(1, id);
        mark_.bind(2, now_ms);
        mark_.exec();
        mark_.reset();
        if (db_.getChanges() == 1) out.push_back(id);
      }
      return out;
    });
  }

  void finish(const std::vector<AttemptResult>& results, std::int64_t now_ms) override {
    write("finish", [&] {
      for (const auto& r : results) {
        finish_.bind(1, r.id);
        finish_.bind(2, std::string(model::to_string(r.state)));
        finish_.bind(3, r.next_attempt_ms);
        finish_.bind(4, r.errcode);
        finish_.bind(5, r.reason);
        finish_.bind(6, r.remote_id);
        finish_.bind(7, now_ms);
        finish_.bind(8, r.uncount_attempt ? 1 : 0);
        finish_.exec();
        finish_.reset();
      }
      return 0;
    });
  }

  bool retry(std::int64_t id, std::int64_t now_ms) override {
    return write("retry", [&] {
      SQLite::Statement u(db_,
                          "UPDATE outbox SET state = 'queued', next_attempt_ms = ?2, updated_ms = ?2 "
                          "WHERE id = ?1 AND state IN ('queued', 'failed', 'expired', 'cancelled')");
      u.bind(1, id);
      u.bind(2, now_ms);
      return u.exec() == 1;
    });
  }

  bool cancel(std::int64_t id, std::int64_t now_ms) override {
    return write("cancel", [&] {
      SQLite::Statement u(db_,
                          "UPDATE outbox SET state = 'cancelled', last_reason = '管理员已取消', updated_ms = ?2 "
                          "WHERE id = ?1 AND state = 'queued'");
      u.bind(1, id);
      u.bind(2, now_ms);
      return u.exec() == 1;
    });
  }

  std::optional<OutboxRow> get(std::int64_t id) override {
    return read("get", [&]() -> std::optional<OutboxRow> {
      SQLite::Statement q(db_, fmt::format("SELECT {} FROM outbox WHERE id = ?1", kColumns));
      q.bind(1, id);
      if (!q.executeStep()) return std::nullopt;
      return read_row(q);
    });
  }

  std::vector<OutboxRow> list(const OutboxQuery& query) override {
    return read("list", [&] {
      std::string sql = fmt::format("SELECT {} FROM outbox WHERE id > ?1", kColumns);
      if (query.route) sql += " AND route = ?2";
      if (query.target) sql += " AND target = ?3";
      if (query.state) sql += " AND state = ?4";
      sql += query.newest_first ? " ORDER BY id DESC" : " ORDER BY id";
      sql += " LIMIT ?5";
      SQLite::Statement q(db_, sql);
      q.bind(1, query.after_id);
      if (query.route) q.bind(2, *query.route);
      if (query.target) q.bind(3, *query.target);
      if (query.state) q.bind(4, std::string(model::to_string(*query.state)));
      q.bind(5, std::clamp(query.limit, 1, 1000));
      std::vector<OutboxRow> out;
      while (q.executeStep()) out.push_back(read_row(q));
      return out;
    });
  }

  std::vector<OutboxRouteStats> stats() override {
    return read("stats", [&] {
      SQLite::Statement q(db_,
                          "SELECT route, count(*), min(created_ms) FROM outbox WHERE state IN ('queued', 'sending') "
                          "GROUP BY route ORDER BY route");
      std::vector<OutboxRouteStats> out;
      while (q.executeStep())
        out.push_back({q.getColumn(0).getString(), q.getColumn(1).getInt64(), q.getColumn(2).getInt64()});
      return out;
    });
  }

 private:
  SQLite::Statement insert_;
  SQLite::Statement find_key_;
  SQLite::Statement mark_;
  SQLite::Statement finish_;
};

}  // namespace

Result<std::unique_ptr<OutboxStore>> open_sqlite_outbox_store(const Settings& settings) {
  auto db = open_sqlite_connection(settings, "the outbox");
  if (!db) return db.error();
  try {
    return std::unique_ptr<OutboxStore>(std::make_unique<SqliteOutboxStore>(settings.path, std::move(*db)));
  } catch (const SQLite::Exception& e) {
    return fail("store.open", fmt::format("cannot open the outbox in {}: {}", settings.path, e.what()));
  }
}

}  // namespace yuer::store
