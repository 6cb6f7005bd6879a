// Personal fields sealed at rest, on real SQLite files (docs/privacy.md "Encryption at rest"):
// every caller still gets plain text through the store interfaces, the file holds none of it,
// plain rows are sealed at start, keys rotate, and what cannot be opened is refused clearly.
#include "daemon/store/field_cipher.h"
#include "daemon/store/org_store.h"
#include "daemon/store/sqlite_store.h"
#include "daemon/store/store_testing.h"
#include "daemon/store/survey_store.h"

#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

namespace yuer::store {
namespace {

using testing::store_file_bytes;
using testing::TempDir;

const std::string kKey1 = "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
const std::string kKey2 = "k2 f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff\n";
const std::string kOtherKey1 = "k1 1111111111111111111111111111111111111111111111111111111111111111\n";

// Personal data of the fixture: none of it may be in the file's bytes once sealed.
const char* const kName = "王秀英";
const char* const kBirth = "2024-05-17";
const char* const kTypedBirth = "2023-11-29";
const char* const kAnswer = "只吃母乳";
const char* const kMessage = "我是王秀英的妈妈";

std::shared_ptr<const FieldCipher> keys(const std::string& text) {
  auto c = FieldCipher::parse(text);
  REQUIRE(c.has_value());
  return *c;
}

struct Stores {
  std::unique_ptr<Store> main;
  std::unique_ptr<OrgStore> org;
  std::unique_ptr<SurveyStore> survey;
};

Stores open_all(const Settings& s) {
  Stores out;
  auto m = open_sqlite_store(s);
  if (!m) FAIL("open: " << m.error().code << " " << m.error().message);
  out.main = std::move(*m);
  auto o = open_sqlite_org_store(s);
  REQUIRE(o.has_value());
  out.org = std::move(*o);
  auto v = open_sqlite_survey_store(s);
  REQUIRE(v.has_value());
  out.survey = std::move(*v);
  return out;
}

// Writes one family, one round with a matched and an unmatched response, and one inbox row.
std::int64_t write_fixture(Stores& st) {
  Family f;
  f.child_id = "P001";
  f.birth_date = kBirth;
  f.unit_code = "440103001000";
  f.caregiver_name = kName;
  f.phone_hash = "h1";
  f.phone_masked = "139****5671";
  st.org->write_families({f}, 100);
  auto r = testing::march_round();
  const auto round = st.survey->open_round(r, {{"P001", "440103001000", kBirth}}, 1000);
  SurveyTurnWrite t;
  t.channel = "kf";
  t.user_id = "wmParent1";
  t.round_id = round;
  t.state = std::string("{\"typed_birth_date\":\"") + kTypedBirth + "\"}";
  SurveyResponse matched;
  matched.child_id = "P001";
  matched.unit_code = "440103001000";
  matched.birth_date = kBirth;
  matched.interview_date = "2026-03-10";
  matched.age_months = 21;
  matched.answers = std::string("{\"q1\":\"") + kAnswer + "\"}";
  SurveyResponse unmatched = matched;
  unmatched.child_id = "";
  unmatched.unit_code = "";
  unmatched.birth_date = kTypedBirth;
  t.responses = {matched, unmatched};
  st.survey->save_turn(t, 2000);
  // A correction: the previous version goes to history.
  st.survey->save_turn(t, 3000);
  auto e = testing::make_event("app", "m1", "text", std::string("<xml><Content>") + kMessage + "</Content></xml>");
  st.main->insert_inbox({e});
  return round;
}

void check_fixture_reads(Stores& st, std::int64_t round) {
  auto fams = st.org->families_by_child({"P001"});
  REQUIRE(fams.size() == 1);
  CHECK(fams["P001"].caregiver_name == kName);
  CHECK(fams["P001"].birth_date == kBirth);
  CHECK(st.org->families({}).at(0).birth_date == kBirth);
  REQUIRE(st.survey->eligible(round).size() == 1);
  CHECK(st.survey->eligible(round)[0].birth_date == kBirth);
  CHECK(st.survey->conversation("kf", "wmParent1", round) == std::string("{\"typed_birth_date\":\"") + kTypedBirth + "\"}");
  auto rs = st.survey->responses(round);
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].birth_date == kBirth);
  CHECK(rs[0].answers.find(kAnswer) != std::string::npos);
  CHECK(rs[0].revision == 2);
  CHECK(rs[1].birth_date == kTypedBirth);
  CHECK(rs[1].revision == 2);  // the unmatched respondent's key found its row again
  auto h = st.survey->history(rs[0].id);
  REQUIRE(h.size() == 1);
  CHECK(h[0].answers.find(kAnswer) != std::string::npos);
  CHECK(st.survey->unmatched(round).at(0).birth_date == kTypedBirth);
  CHECK(st.survey->coverage_counts(round)["440103001000"].responded == 1);
  auto in = st.main->list_inbox({});
  REQUIRE(in.size() == 1);
  CHECK(in[0].event.payload.find(kMessage) != std::string::npos);
}

// Every protected column of every row, as stored.
std::vector<std::string> raw_values(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  std::vector<std::string> out;
  for (const auto& c : protected_columns()) {
    SQLite::Statement q(db, std::string("SELECT ") + c.column + " FROM " + c.table + " WHERE " + c.column + " <> ''");
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  }
  SQLite::Statement k(db, "SELECT respondent_key FROM survey_response");
  while (k.executeStep()) out.push_back(k.getColumn(0).getString());
  return out;
}

void check_no_plain_text(const std::string& path) {
  const auto bytes = store_file_bytes(path);
  REQUIRE(bytes.size() > 4096);
  for (const char* needle : {kName, kBirth, kTypedBirth, kAnswer, kMessage}) {
    CAPTURE(needle);
    CHECK(bytes.find(needle) == std::string::npos);
  }
}

// The fixture written into a fresh store at `s`, closed again (the file is then at rest).
std::int64_t write_and_close(const Settings& s) {
  auto st = open_all(s);
  return write_fixture(st);
}

TEST_CASE("sealed store: callers read plain text, the file holds none of it", "[store][privacy]") {
  TempDir dir;
  Settings s;
  s.path = dir.file("yuer.db");
  s.field_cipher = keys(kKey1);
  std::int64_t round = 0;
  {
    auto st = open_all(s);
    round = write_fixture(st);
    check_fixture_reads(st, round);
    int sealed = 0;
    for (const auto& v : raw_values(s.path)) {
      if (v.starts_with("unmatched:")) {
        CHECK(v.find(kTypedBirth) == std::string::npos);
        continue;
      }
      if (v == "P001") continue;  // the matched respondent's key is the child id
      CHECK(v.starts_with("yenc1:k1:"));
      ++sealed;
    }
    CHECK(sealed == 11);  // name, birth date, eligible, state, 2 x (birth, answers), 2 history, inbox
    check_no_plain_text(s.path);  // while open: database and WAL
  }
  check_no_plain_text(s.path);
  auto again = open_all(s);
  CHECK(again.main->sealed_at_open() == 0);
  check_fixture_reads(again, round);
}

TEST_CASE("sealed store: plain rows are sealed at the first start with a key", "[store][privacy]") {
  TempDir dir;
  Settings s;
  s.path = dir.file("yuer.db");
  const std::int64_t round = write_and_close(s);
  CHECK(store_file_bytes(s.path).find(kName) != std::string::npos);  // the test can see plain text
  s.field_cipher = keys(kKey1);
  auto st = open_all(s);
  CHECK(st.main->sealed_at_open() == 12);  // 11 values and the unmatched respondent's key
  for (const auto& v : raw_values(s.path)) CHECK((v.starts_with("yenc1:k1:") || v == "P001" || v.starts_with("unmatched:")));
  check_fixture_reads(st, round);
  // The correction of the unmatched respondent still finds its row (the key was rewritten too).
  SurveyTurnWrite t;
  t.channel = "kf";
  t.user_id = "wmParent1";
  t.round_id = round;
  t.state = "{}";
  SurveyResponse u;
  u.birth_date = kTypedBirth;
  u.interview_date = "2026-03-11";
  u.answers = "{}";
  t.responses = {u};
  st.survey->save_turn(t, 4000);
  CHECK(st.survey->unmatched(round).size() == 1);
  CHECK(st.survey->unmatched(round)[0].revision == 3);
  st = Stores{};
  check_no_plain_text(s.path);  // secure_delete and the checkpoint left no copy behind
}

TEST_CASE("sealed store: a new first key re-seals everything, the old key can then go", "[store][privacy]") {
  TempDir dir;
  Settings s;
  s.path = dir.file("yuer.db");
  s.field_cipher = keys(kKey1);
  const std::int64_t round = write_and_close(s);
  s.field_cipher = keys(kKey2 + kKey1);
  {
    auto st = open_all(s);
    CHECK(st.main->sealed_at_open() == 12);  // the respondent's keyed hash follows the key too
    for (const auto& v : raw_values(s.path))
      CHECK((v.starts_with("yenc1:k2:") || v == "P001" || v.starts_with("unmatched:")));
    check_fixture_reads(st, round);
  }
  s.field_cipher = keys(kKey2);
  {
    auto st = open_all(s);
    CHECK(st.main->sealed_at_open() == 0);
    check_fixture_reads(st, round);
  }
  // Back to the retired key alone: refused, nothing changed.
  s.field_cipher = keys(kKey1);
  const auto before = raw_values(s.path);
  auto refused = open_sqlite_store(s);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == "store.key");
  CHECK(refused.error().message.find("k2") != std::string::npos);
  CHECK(raw_values(s.path) == before);
}

TEST_CASE("sealed store: no key, a wrong key or a changed value are refused, never garbage", "[store][privacy]") {
  TempDir dir;
  Settings s;
  s.path = dir.file("yuer.db");
  s.field_cipher = keys(kKey1);
  {
    auto st = open_all(s);
    write_fixture(st);
  }
  const auto before = raw_values(s.path);
  struct Case {
    const char* label;
    std::shared_ptr<const FieldCipher> cipher;
  };
  const Case cases[] = {{"no key", nullptr}, {"another key under the same id", keys(kOtherKey1)}};
  for (const auto& c : cases) {
    CAPTURE(c.label);
    Settings t = s;
    t.field_cipher = c.cipher;
    auto r = open_sqlite_store(t);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "store.key");
    for (const char* needle : {kName, kBirth}) CHECK(r.error().message.find(needle) == std::string::npos);
    CHECK(raw_values(s.path) == before);
  }
  // One changed byte in a stored name (not the first row, which the start-up check opens): the read
  // fails with store.corrupt, naming the column.
  {
    auto st = open_all(s);
    Family f;
    f.child_id = "P002";
    f.birth_date = "2024-01-01";
    f.unit_code = "440103001000";
    f.caregiver_name = "李建国";
    f.phone_hash = "h2";
    f.phone_masked = "139****6782";
    st.org->write_families({f}, 100);
  }
  {
    SQLite::Database db(s.path, SQLite::OPEN_READWRITE);
    std::string v = db.execAndGet("SELECT caregiver_name FROM family WHERE child_id = 'P002'").getString();
    // A byte of the ciphertext (the last base64 characters may carry only padding bits).
    v[v.size() / 2] = v[v.size() / 2] == 'A' ? 'B' : 'A';
    SQLite::Statement q(db, "UPDATE family SET caregiver_name = ?1 WHERE child_id = 'P002'");
    q.bind(1, v);
    q.exec();
  }
  auto st = open_all(s);
  CHECK(st.org->families_by_child({"P001"}).at("P001").caregiver_name == kName);
  try {
    (void)st.org->families_by_child({"P002"});
    FAIL("a changed value was read");
  } catch (const StoreError& e) {
    CHECK(e.code() == "store.corrupt");
    CHECK(std::string(e.what()).find("family.caregiver_name") != std::string::npos);
    CHECK(std::string(e.what()).find("李建国") == std::string::npos);
  }
}

TEST_CASE("plain store: without a key nothing is sealed and the file reads as before", "[store][privacy]") {
  TempDir dir;
  Settings s;
  s.path = dir.file("yuer.db");
  auto st = open_all(s);
  const auto round = write_fixture(st);
  check_fixture_reads(st, round);
  for (const auto& v : raw_values(s.path)) CHECK_FALSE(is_sealed(v));
  CHECK(st.survey->unmatched(round).size() == 1);
}

}  // namespace
}  // namespace yuer::store
