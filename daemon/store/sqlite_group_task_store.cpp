// The SQLite GroupTaskStore: its own connection to the store file (WAL lets it write beside the
// inbox's and the outbox's connections).
#include "daemon/store/group_task_store.h"

#include "daemon/store/sqlite_store.h"

#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>

#include <algorithm>

namespace yuer::store {
namespace {

constexpr const char* kPostColumns =
    "id, chat_id, content, idempotency_key, state, task_id, not_before_ms, expire_at_ms, created_ms, updated_ms, "
    "sent_ms, reason";
constexpr const char* kTaskColumns =
    "id, owner, content, month, state, msgid, created_ms, updated_ms, next_check_ms, reminds, last_remind_ms, "
    "done_ms, reason";

GroupPost read_post(SQLite::Statement& q) {
  GroupPost p;
  p.id = q.getColumn(0).getInt64();
  p.chat_id = q.getColumn(1).getString();
  p.content = q.getColumn(2).getString();
  p.idempotency_key = q.getColumn(3).getString();
  p.state = q.getColumn(4).getString();
  p.task_id = q.getColumn(5).getInt64();
  p.not_before_ms = q.getColumn(6).getInt64();
  p.expire_at_ms = q.getColumn(7).getInt64();
  p.created_ms = q.getColumn(8).getInt64();
  p.updated_ms = q.getColumn(9).getInt64();
  p.sent_ms = q.getColumn(10).getInt64();
  p.reason = q.getColumn(11).getString();
  return p;
}

GroupTask read_task(SQLite::Statement& q) {
  GroupTask t;
  t.id = q.getColumn(0).getInt64();
  t.owner = q.getColumn(1).getString();
  t.content = q.getColumn(2).getString();
  t.month = q.getColumn(3).getString();
  t.state = q.getColumn(4).getString();
  t.msgid = q.getColumn(5).getString();
  t.created_ms = q.getColumn(6).getInt64();
  t.updated_ms = q.getColumn(7).getInt64();
  t.next_check_ms = q.getColumn(8).getInt64();
  t.reminds = q.getColumn(9).getInt();
  t.last_remind_ms = q.getColumn(10).getInt64();
  t.done_ms = q.getColumn(11).getInt64();
  t.reason = q.getColumn(12).getString();
  return t;
}

class SqliteGroupTaskStore final : public GroupTaskStore, private SqliteConnection {
 public:
  SqliteGroupTaskStore(std::string path, SQLite::Database db) : SqliteConnection(std::move(path), std::move(db), "group tasks") {}

  std::vector<EnqueueResult> enqueue(const std::vector<NewGroupPost>& posts, std::int64_t now_ms) override {
    return write("enqueue", [&] {
      SQLite::Statement insert(db_,
                               "INSERT INTO group_post (chat_id, content, idempotency_key, expire_at_ms, created_ms, "
                               "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (idempotency_key) DO NOTHING");
      SQLite::Statement find(db_, "SELECT id FROM group_post WHERE idempotency_key = ?1");
      std::vector<EnqueueResult> out;
      for (const auto& p : posts) {
        insert.bind(1, p.chat_id);
        insert.bind(2, p.content);
        insert.bind(3, p.idempotency_key);
        insert.bind(4, p.expire_at_ms);
        insert.bind(5, now_ms);
        if (insert.exec() == 1) {
          out.push_back({db_.getLastInsertRowid(), false});
        } else {
          find.bind(1, p.idempotency_key);
          find.executeStep();
          out.push_back({find.getColumn(0).getInt64(), true});
          find.reset();
        }
        insert.reset();
      }
      return out;
    });
  }

  std::vector<GroupPost> queued_posts() override {
    return read("queued_posts", [&] {
      SQLite::Statement q(db_, fmt::format("SELECT {} FROM group_post WHERE state = 'queued' ORDER BY id", kPostColumns));
      std::vector<GroupPost> out;
      while (q.executeStep()) out.push_back(read_post(q));
      return out;
    });
  }

  std::map<std::string, int> quota_used(const std::vector<std::string>& chat_ids, const std::string& month) override {
    return read("quota_used", [&] {
      // A task counts while it may still reach the group, and for good once WeCom sent it there.
      SQLite::Statement q(db_,
                          "SELECT COUNT(*) FROM group_task_chat c JOIN group_task t ON t.id = c.task_id "
                          "WHERE c.chat_id = ?1 AND t.month = ?2 AND "
                          "(t.state IN ('creating', 'waiting') OR c.result = 'sent')");
      std::map<std::string, int> out;
      for (const auto& chat : chat_ids) {
        q.bind(1, chat);
        q.bind(2, month);
        q.executeStep();
        out[chat] = q.getColumn(0).getInt();
        q.reset();
      }
      return out;
    });
  }

  std::int64_t create_task(const NewGroupTask& task, std::int64_t now_ms) override {
    try {
      return create_task_or_throw(task, now_ms);
    } catch (const NotQueued&) {
      return 0;  // rolled back: a post was cancelled or tasked meanwhile
    }
  }

  std::int64_t create_task_or_throw(const NewGroupTask& task, std::int64_t now_ms) {
    return write("create_task", [&]() -> std::int64_t {
      SQLite::Statement ins(db_,
                            "INSERT INTO group_task (owner, content, month, created_ms, updated_ms) "
                            "VALUES (?1, ?2, ?3, ?4, ?4)");
      ins.bind(1, task.owner);
      ins.bind(2, task.content);
      ins.bind(3, task.month);
      ins.bind(4, now_ms);
      ins.exec();
      const std::int64_t id = db_.getLastInsertRowid();
      SQLite::Statement chat(db_, "INSERT INTO group_task_chat (task_id, chat_id) VALUES (?1, ?2)");
      for (const auto& c : task.chat_ids) {
        chat.bind(1, id);
        chat.bind(2, c);
        chat.exec();
        chat.reset();
      }
      const int moved = each_id(
          "UPDATE group_post SET state = 'tasked', task_id = ?2, updated_ms = ?3, reason = '' "
          "WHERE id = ?1 AND state = 'queued'",
          task.post_ids, [&](SQLite::Statement& q) {
            q.bind(2, id);
            q.bind(3, now_ms);
          });
      if (moved != static_cast<int>(task.post_ids.size())) throw NotQueued{};
      return id;
    });
  }

  void task_created(std::int64_t task_id, const std::string& msgid, std::int64_t next_check_ms,
                    std::int64_t now_ms) override {
    write("task_created", [&] {
      SQLite::Statement q(db_,
                          "UPDATE group_task SET state = 'waiting', msgid = ?2, next_check_ms = ?3, updated_ms = ?4, "
                          "reason = '' WHERE id = ?1 AND state = 'creating'");
      q.bind(1, task_id);
      q.bind(2, msgid);
      q.bind(3, next_check_ms);
      q.bind(4, now_ms);
      return q.exec();
    });
  }

  void abandon_task(std::int64_t task_id, std::int64_t not_before_ms, const std::string& reason,
                    std::int64_t now_ms) override {
    write("abandon_task", [&] {
      SQLite::Statement posts(db_,
                              "UPDATE group_post SET state = 'queued', task_id = 0, not_before_ms = ?2, reason = ?3, "
                              "updated_ms = ?4 WHERE task_id = ?1 AND state = 'tasked'");
      posts.bind(1, task_id);
      posts.bind(2, not_before_ms);
      posts.bind(3, reason);
      posts.bind(4, now_ms);
      posts.exec();
      for (const char* sql : {"DELETE FROM group_task_chat WHERE task_id = ?1",
                              "DELETE FROM group_task WHERE id = ?1 AND state = 'creating'"}) {
        SQLite::Statement q(db_, sql);
        q.bind(1, task_id);
        q.exec();
      }
      return 0;
    });
  }

  void task_checked(std::int64_t task_id, std::int64_t next_check_ms, bool reminded, const std::string& reason,
                    std::int64_t now_ms) override {
    write("task_checked", [&] {
      SQLite::Statement q(db_,
                          "UPDATE group_task SET next_check_ms = ?2, reason = ?3, updated_ms = ?4, "
                          "reminds = reminds + ?5, last_remind_ms = CASE WHEN ?5 = 1 THEN ?4 ELSE last_remind_ms END "
                          "WHERE id = ?1");
      q.bind(1, task_id);
      q.bind(2, next_check_ms);
      q.bind(3, reason);
      q.bind(4, now_ms);
      q.bind(5, reminded ? 1 : 0);
      return q.exec();
    });
  }

  void end_task(const GroupTaskEnd& end, std::int64_t now_ms) override {
    write("end_task", [&] {
      SQLite::Statement task(db_,
                             "UPDATE group_task SET state = ?2, reason = ?3, done_ms = ?4, updated_ms = ?4 "
                             "WHERE id = ?1 AND state IN ('creating', 'waiting')");
      task.bind(1, end.task_id);
      task.bind(2, end.state);
      task.bind(3, end.reason);
      task.bind(4, now_ms);
      if (task.exec() == 0) return 0;  // already ended: nothing changes
      SQLite::Statement result(db_, "UPDATE group_task_chat SET result = ?3 WHERE task_id = ?1 AND chat_id = ?2");
      SQLite::Statement post(db_,
                             "UPDATE group_post SET state = ?3, reason = ?4, updated_ms = ?5, "
                             "sent_ms = CASE WHEN ?3 = 'sent' THEN ?5 ELSE sent_ms END "
                             "WHERE task_id = ?1 AND chat_id = ?2 AND state = 'tasked'");
      for (const auto& [chat, r] : end.results) {
        result.bind(1, end.task_id);
        result.bind(2, chat);
        result.bind(3, r);
        result.exec();
        result.reset();
      }
      SQLite::Statement chats(db_, "SELECT chat_id FROM group_task_chat WHERE task_id = ?1");
      chats.bind(1, end.task_id);
      while (chats.executeStep()) {
        const std::string chat = chats.getColumn(0).getString();
        auto r = end.results.find(chat);
        const bool sent = r != end.results.end() && r->second == "sent";
        auto why = end.post_reason.find(chat);
        post.bind(1, end.task_id);
        post.bind(2, chat);
        post.bind(3, sent ? std::string("sent") : (r == end.results.end() ? end.posts_state : std::string("failed")));
        post.bind(4, sent ? std::string() : (why != end.post_reason.end() ? why->second : end.reason));
        post.bind(5, now_ms);
        post.exec();
        post.reset();
      }
      return 0;
    });
  }

  void defer_posts(const std::vector<std::int64_t>& ids, std::int64_t not_before_ms, const std::string& reason,
                   std::int64_t now_ms) override {
    write("defer_posts", [&] {
      return each_id(
          "UPDATE group_post SET not_before_ms = ?2, reason = ?3, updated_ms = ?4 WHERE id = ?1 AND state = 'queued'",
          ids, [&](SQLite::Statement& q) {
            q.bind(2, not_before_ms);
            q.bind(3, reason);
            q.bind(4, now_ms);
          });
    });
  }

  int end_posts(const std::vector<std::int64_t>& ids, const std::string& state, const std::string& reason,
                std::int64_t now_ms) override {
    return write("end_posts", [&] {
      return each_id("UPDATE group_post SET state = ?2, reason = ?3, updated_ms = ?4 WHERE id = ?1 AND state = 'queued'",
                     ids, [&](SQLite::Statement& q) {
                       q.bind(2, state);
                       q.bind(3, reason);
                       q.bind(4, now_ms);
                     });
    });
  }

  std::vector<GroupTask> tasks(const GroupTaskQuery& query) override {
    return read("tasks", [&] {
      std::string sql = fmt::format("SELECT {} FROM group_task WHERE 1 = 1", kTaskColumns);
      if (query.state) {
        sql += *query.state == "open" ? " AND state IN ('creating', 'waiting')" : " AND state = ?1";
      }
      if (query.owner) sql += " AND owner = ?2";
      sql += " ORDER BY id DESC LIMIT ?3";
      SQLite::Statement q(db_, sql);
      if (query.state && *query.state != "open") q.bind(1, *query.state);
      if (query.owner) q.bind(2, *query.owner);
      q.bind(3, std::clamp(query.limit, 1, 1000));
      return with_details(q);
    });
  }

  std::vector<GroupTask> open_tasks() override {
    return read("open_tasks", [&] {
      SQLite::Statement q(
          db_, fmt::format("SELECT {} FROM group_task WHERE state IN ('creating', 'waiting') ORDER BY id", kTaskColumns));
      return with_details(q);
    });
  }

 private:
  // Runs `sql` with `bind` once per id; returns the rows changed.
  template <class Bind>
  int each_id(const char* sql, const std::vector<std::int64_t>& ids, Bind bind) {
    SQLite::Statement q(db_, sql);
    int changed = 0;
    for (auto id : ids) {
      q.bind(1, id);
      bind(q);
      changed += q.exec();
      q.reset();
    }
    return changed;
  }

  // The tasks `q` selects, each with its groups (and their results) and posts.
  std::vector<GroupTask> with_details(SQLite::Statement& q) {
    std::vector<GroupTask> out;
    while (q.executeStep()) out.push_back(read_task(q));
    SQLite::Statement chats(db_, "SELECT chat_id, result FROM group_task_chat WHERE task_id = ?1 ORDER BY chat_id");
    SQLite::Statement posts(db_, "SELECT id FROM group_post WHERE task_id = ?1 ORDER BY id");
    for (auto& t : out) {
      chats.bind(1, t.id);
      while (chats.executeStep()) t.chats[chats.getColumn(0).getString()] = chats.getColumn(1).getString();
      chats.reset();
      posts.bind(1, t.id);
      while (posts.executeStep()) t.post_ids.push_back(posts.getColumn(0).getInt64());
      posts.reset();
    }
    return out;
  }

 public:
  std::optional<GroupPost> post(std::int64_t id) override {
    return read("post", [&]() -> std::optional<GroupPost> {
      SQLite::Statement q(db_, fmt::format("SELECT {} FROM group_post WHERE id = ?1", kPostColumns));
      q.bind(1, id);
      if (!q.executeStep()) return std::nullopt;
      return read_post(q);
    });
  }

 private:
  struct NotQueued {};
};

}  // namespace

Result<std::unique_ptr<GroupTaskStore>> open_sqlite_group_task_store(const Settings& settings) {
  auto db = open_sqlite_connection(settings, "the group tasks");
  if (!db) return db.error();
  return std::unique_ptr<GroupTaskStore>(std::make_unique<SqliteGroupTaskStore>(settings.path, std::move(*db)));
}

}  // namespace yuer::store
