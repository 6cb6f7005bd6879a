// The start-up pass over the personal fields (open_sqlite_store): refuse what cannot be opened,
// seal plain values and re-seal older-key ones under the current key, in one transaction.
#include "daemon/store/sqlite_store.h"

#include <fmt/format.h>

#include <utility>

namespace yuer::store {
namespace {

// Rows per SELECT of the sealing loop (sealed rows stop matching, so the loop ends).
constexpr int kBatch = 512;

std::string sealed_prefix_test(const ProtectedColumn& c, std::string_view prefix) {
  return fmt::format("substr({}, 1, {}) = '{}'", c.column, prefix.size(), prefix);
}

}  // namespace

const std::vector<ProtectedColumn>& protected_columns() {
  static const std::vector<ProtectedColumn> columns = {
      {"family", "caregiver_name", "child_id", "family.caregiver_name"},
      {"family", "birth_date", "child_id", "family.birth_date"},
      {"survey_eligible", "birth_date", "round_id, child_id", "survey_eligible.birth_date"},
      {"survey_conversation", "state", "channel, user_id, round_id", "survey_conversation.state"},
      {"survey_response", "birth_date", "id", "survey_response.birth_date"},
      {"survey_response", "answers", "id", "survey_response.answers"},
      // History rows are copied from survey_response by SQL, so they share its associated data.
      {"survey_response_history", "answers", "id", "survey_response.answers"},
      {"inbox", "payload", "id", "inbox.payload"},
  };
  return columns;
}

std::string unmatched_respondent_key(const FieldCipher* cipher, const std::string& channel, const std::string& user,
                                     const std::string& birth_date) {
  const std::string head = "unmatched:" + channel + ":" + user + ":";
  return cipher ? head + "#" + cipher->index("respondent birth date", birth_date) : head + birth_date;
}

Result<std::int64_t> protect_fields(SQLite::Database& db, const std::string& path, const FieldCipher* cipher) {
  std::int64_t changed = 0;
  static_assert(kBatch > 0);
  try {
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    if (!cipher) {
      // The inbox can be large: its first and last rows tell (all rows since a key was configured are sealed).
      for (const auto& c : protected_columns()) {
        const bool inbox = std::string_view(c.table) == "inbox";
        const std::string sql =
            inbox ? fmt::format("SELECT count(*) FROM inbox WHERE id IN ((SELECT min(id) FROM inbox), (SELECT max(id) "
                                "FROM inbox)) AND {}",
                                sealed_prefix_test(c, kSealedPrefix))
                  : fmt::format("SELECT EXISTS (SELECT 1 FROM {} WHERE {})", c.table, sealed_prefix_test(c, kSealedPrefix));
        if (db.execAndGet(sql).getInt64() > 0)
          return fail("store.key", fmt::format("{} holds sealed personal fields ({}) but no [privacy] field_key_* is "
                                               "configured; configure the key file they were sealed with",
                                               path, c.name));
      }
      return std::int64_t{0};
    }
    // Plain text replaced below must not linger in free space of the pages.
    db.exec("PRAGMA secure_delete = ON");
    const std::string prefix = cipher->current_prefix();
    // A wrong key under the current id shows on the first value it sealed (a clear refusal, not garbage later).
    for (const auto& c : protected_columns()) {
      SQLite::Statement q(db, fmt::format("SELECT {} FROM {} WHERE {} LIMIT 1", c.column, c.table,
                                          sealed_prefix_test(c, prefix)));
      if (q.executeStep()) {
        try {
          (void)cipher->open(q.getColumn(0).getString(), c.name);
        } catch (const StoreError& e) {
          return fail("store.key", fmt::format("{}: {}; is [privacy] field_key_* the key file this store was sealed "
                                               "with?",
                                               path, e.what()));
        }
      }
    }
    for (const auto& c : protected_columns()) {
      const std::string keys = c.key_columns;
      std::vector<std::string> key_names;
      for (std::size_t start = 0; start < keys.size();) {
        auto end = keys.find(',', start);
        if (end == std::string::npos) end = keys.size();
        std::string k = keys.substr(start, end - start);
        while (!k.empty() && k.front() == ' ') k.erase(0, 1);
        key_names.push_back(std::move(k));
        start = end + 1;
      }
      const int n = static_cast<int>(key_names.size());
      std::string where, after;  // "k1 = ?1 AND k2 = ?2", "(k1, k2) > (?1, ?2)"
      for (int i = 0; i < n; ++i) {
        where += fmt::format("{}{} = ?{}", i ? " AND " : "", key_names[static_cast<std::size_t>(i)], i + 1);
        after += fmt::format("{}?{}", i ? ", " : "", i + 1);
      }
      const std::string select = fmt::format("SELECT {}, {} FROM {} WHERE {} <> '' AND NOT {}", keys, c.column, c.table,
                                             c.column, sealed_prefix_test(c, prefix));
      // Keyset paging in key order: each row is read once, however large the table.
      SQLite::Statement first(db, fmt::format("{} ORDER BY {} LIMIT {}", select, keys, kBatch));
      SQLite::Statement next(db, fmt::format("{} AND ({}) > ({}) ORDER BY {} LIMIT {}", select, keys, after, keys, kBatch));
      SQLite::Statement put(db, fmt::format("UPDATE {} SET {} = ?{} WHERE {}", c.table, c.column, n + 1, where));
      // A key value: integer or text, bound back as it was read.
      struct Key {
        bool integer = false;
        std::int64_t i = 0;
        std::string s;
      };
      auto bind_key = [](SQLite::Statement& q, int at, const Key& k) {
        if (k.integer) q.bind(at, k.i);
        else q.bind(at, k.s);
      };
      std::vector<Key> last;
      for (bool more = true; more;) {
        SQLite::Statement& pick = last.empty() ? first : next;
        for (int i = 0; i < n && !last.empty(); ++i) bind_key(pick, i + 1, last[static_cast<std::size_t>(i)]);
        std::vector<std::pair<std::vector<Key>, std::string>> rows;
        while (pick.executeStep()) {
          std::vector<Key> ks;
          for (int i = 0; i < n; ++i) {
            auto col = pick.getColumn(i);
            Key k;
            k.integer = col.getType() == SQLite::INTEGER;
            if (k.integer) k.i = col.getInt64();
            else k.s = col.getString();
            ks.push_back(std::move(k));
          }
          std::string plain;
          try {
            plain = cipher->open(pick.getColumn(n).getString(), c.name);
          } catch (const StoreError& e) {
            return fail("store.key", fmt::format("{}: {}", path, e.what()));
          }
          rows.emplace_back(std::move(ks), cipher->seal(plain, c.name));
        }
        pick.reset();
        more = rows.size() == static_cast<std::size_t>(kBatch);
        for (const auto& [ks, sealed] : rows) {
          for (int i = 0; i < n; ++i) bind_key(put, i + 1, ks[static_cast<std::size_t>(i)]);
          put.bind(n + 1, sealed);
          put.exec();
          put.reset();
          ++changed;
        }
        if (!rows.empty()) last = rows.back().first;
      }
    }
    // Unmatched respondents' keys hold a keyed hash of the birth date under the current key.
    {
      SQLite::Statement q(db,
                          "SELECT id, respondent_key, channel, user_id, birth_date FROM survey_response WHERE child_id = '' "
                          "AND respondent_key LIKE 'unmatched:%'");
      std::vector<std::pair<std::int64_t, std::string>> rekey;
      while (q.executeStep()) {
        std::string bd;
        try {
          bd = cipher->open(q.getColumn(4).getString(), "survey_response.birth_date");
        } catch (const StoreError& e) {
          return fail("store.key", fmt::format("{}: {}", path, e.what()));
        }
        auto want = unmatched_respondent_key(cipher, q.getColumn(2).getString(), q.getColumn(3).getString(), bd);
        if (want != q.getColumn(1).getString()) rekey.emplace_back(q.getColumn(0).getInt64(), std::move(want));
      }
      SQLite::Statement put(db, "UPDATE survey_response SET respondent_key = ?2 WHERE id = ?1");
      for (const auto& [id, key] : rekey) {
        put.bind(1, id);
        put.bind(2, key);
        put.exec();
        put.reset();
        ++changed;
      }
    }
    tx.commit();
    // ... nor in the WAL: copy it into the database and truncate it (best effort: a reader may hold it).
    if (changed > 0) db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (const SQLite::Exception& e) {
    return fail("store.migrate", fmt::format("{}: sealing personal fields failed: {}", path, e.what()));
  }
  return changed;
}

}  // namespace yuer::store
