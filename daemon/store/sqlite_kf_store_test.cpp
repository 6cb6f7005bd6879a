#include "daemon/store/kf_store.h"

#include "daemon/store/store.h"
#include "daemon/store/store_testing.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

namespace yuer::store {
namespace {

using testing::TempDir;

std::unique_ptr<KfStore> open_kf(const std::string& path) {
  Settings s;
  s.path = path;
  s.synchronous = "normal";
  auto opened = open_sqlite_kf_store(s);
  if (!opened) FAIL("open_sqlite_kf_store: " << opened.error().code << ": " << opened.error().message);
  return std::move(*opened);
}

std::vector<KfCustomerMessage> msgs(std::vector<KfCustomerMessage> v) { return v; }

}  // namespace

TEST_CASE("kf cursor: absent at first, kept per account, survives a reopen, empty next_cursor keeps it",
          "[store][kf]") {
  TempDir dir;
  const std::string path = (dir.path() / "yuer.db").string();
  {
    auto kf = open_kf(path);
    CHECK_FALSE(kf->cursor("wkA").has_value());
    kf->apply_page("wkA", "c1", {}, 1000);
    kf->apply_page("wkB", "b1", {}, 1000);
    kf->apply_page("wkA", "c2", {}, 2000);
    kf->apply_page("wkA", "", {}, 3000);
    CHECK(kf->cursor("wkA").value_or("") == "c2");
  }
  auto kf = open_kf(path);
  CHECK(kf->cursor("wkA").value_or("") == "c2");
  CHECK(kf->cursor("wkB").value_or("") == "b1");
}

TEST_CASE("kf window: a parent's messages move it forward only, once per parent per page", "[store][kf]") {
  TempDir dir;
  auto kf = open_kf((dir.path() / "yuer.db").string());
  CHECK(kf->window("wkA", "wm1", "m").last_customer_ms == 0);

  auto moved = kf->apply_page("wkA", "c1",
                              msgs({{"wkA", "wm1", 5000, ""}, {"wkA", "wm2", 6000, ""}, {"wkA", "wm1", 7000, ""}}), 10);
  REQUIRE(moved.size() == 2);
  CHECK(moved[0].external_userid == "wm1");
  CHECK(moved[1].external_userid == "wm2");
  CHECK(kf->window("wkA", "wm1", "m").last_customer_ms == 7000);

  // A replayed page (crash before the cursor moved) moves nothing.
  CHECK(kf->apply_page("wkA", "c1", msgs({{"wkA", "wm1", 5000, ""}, {"wkA", "wm1", 7000, ""}}), 20).empty());
  CHECK(kf->window("wkA", "wm1", "m").last_customer_ms == 7000);
  // Another account's parent with the same id is another window.
  CHECK(kf->window("wkB", "wm1", "m").last_customer_ms == 0);
}

TEST_CASE("kf sends: counted per window, a refused one uncounted, an accepted one kept, moved by a recount",
          "[store][kf]") {
  TempDir dir;
  auto kf = open_kf((dir.path() / "yuer.db").string());
  kf->apply_page("wkA", "c1", msgs({{"wkA", "wm1", 1000, ""}}), 10);
  for (int i = 1; i <= 3; ++i) kf->count_send("wkA", "wm1", "m" + std::to_string(i), 1000, 20);
  auto w = kf->window("wkA", "wm1", "m2");
  CHECK(w.sends == 3);
  CHECK(w.counted);
  CHECK_FALSE(kf->window("wkA", "wm1", "m9").counted);

  // Counting the same msgid again (a retry) does not add one.
  kf->count_send("wkA", "wm1", "m2", 1000, 30);
  CHECK(kf->window("wkA", "wm1", "x").sends == 3);

  kf->mark_accepted("wkA", "m1", 40);
  kf->uncount_send("wkA", "m1");  // accepted: stays counted
  kf->uncount_send("wkA", "m3");  // refused: no longer counted
  CHECK(kf->window("wkA", "wm1", "x").sends == 2);

  // The parent writes again: a fresh window with nothing counted; m2, retried in it, counts there.
  CHECK(kf->apply_page("wkA", "c2", msgs({{"wkA", "wm1", 2000, ""}}), 50).size() == 1);
  CHECK(kf->window("wkA", "wm1", "m2").sends == 0);
  kf->count_send("wkA", "wm1", "m2", 2000, 60);
  w = kf->window("wkA", "wm1", "m2");
  CHECK(w.sends == 1);
  CHECK(w.counted);
}

TEST_CASE("kf block: holds for its window only, cleared when the parent writes again", "[store][kf]") {
  TempDir dir;
  auto kf = open_kf((dir.path() / "yuer.db").string());
  kf->apply_page("wkA", "c1", msgs({{"wkA", "wm1", 1000, ""}}), 10);
  kf->block_window("wkA", "wm1", 999, 20);  // an older window: no effect
  CHECK(kf->window("wkA", "wm1", "x").blocked_ms == 0);
  kf->block_window("wkA", "wm1", 1000, 20);
  CHECK(kf->window("wkA", "wm1", "x").blocked_ms == 1000);
  kf->apply_page("wkA", "c2", msgs({{"wkA", "wm1", 3000, ""}}), 30);
  auto w = kf->window("wkA", "wm1", "x");
  CHECK(w.last_customer_ms == 3000);
  CHECK(w.blocked_ms == 0);

  // A parent we never saw write, refused by WeCom: a row that stays "never wrote".
  kf->block_window("wkA", "wm9", 0, 40);
  CHECK(kf->window("wkA", "wm9", "x").last_customer_ms == 0);
  kf->apply_page("wkA", "c3", msgs({{"wkA", "wm9", 4000, ""}}), 50);
  CHECK(kf->window("wkA", "wm9", "x").last_customer_ms == 4000);
  CHECK(kf->window("wkA", "wm9", "x").blocked_ms == 0);
}

TEST_CASE("kf store refuses :memory: with store.open", "[store][kf]") {
  Settings s;
  s.path = ":memory:";
  auto opened = open_sqlite_kf_store(s);
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().code == "store.open");
}

}  // namespace yuer::store

namespace yuer::store {

// send_time has whole seconds: two messages of one parent in one second are two windows (WeCom
// gives 5 sends after each), so the second one moves the window by 1 ms; a replay of either (the
// inbox has it) moves nothing. Issue 7: otherwise a parent answering fast had all the replies of
// several messages counted against one window, the 6th waited for a message that never came.
TEST_CASE("kf window: a second message in the same second opens a new window, a replayed one does not",
          "[store][kf]") {
  TempDir dir;
  const std::string path = (dir.path() / "yuer.db").string();
  auto kf = open_kf(path);
  Settings s;
  s.path = path;
  s.synchronous = "normal";
  auto inbox = open_sqlite_store(s);
  REQUIRE(inbox.has_value());
  auto store_in_inbox = [&](const std::string& msgid) {
    auto e = testing::make_event("kf", "msg:" + msgid, "kf:text", "{}");
    e.channel = "kf";
    std::vector<model::InboundEvent> one(1, e);
    (*inbox)->insert_inbox(one);
  };

  // KfSync: windows first, then the inbox, then the cursor.
  CHECK(kf->apply_page("wkA", "", msgs({{"wkA", "wm1", 5000, "A"}}), 10).size() == 1);
  store_in_inbox("A");
  CHECK(kf->window("wkA", "wm1", "m").last_customer_ms == 5000);
  kf->count_send("wkA", "wm1", "s1", 5000, 11);
  kf->count_send("wkA", "wm1", "s2", 5000, 12);
  CHECK(kf->window("wkA", "wm1", "m").sends == 2);

  // B and C in the same second (one page): two more windows, the last one has no sends yet.
  auto moved = kf->apply_page("wkA", "", msgs({{"wkA", "wm1", 5000, "B"}, {"wkA", "wm1", 5000, "C"}}), 20);
  REQUIRE(moved.size() == 1);
  CHECK(moved[0].external_userid == "wm1");
  store_in_inbox("B");
  store_in_inbox("C");
  auto w = kf->window("wkA", "wm1", "m");
  CHECK(w.last_customer_ms == 5002);
  CHECK(w.sends == 0);

  // The page replayed (crash before the cursor moved): the inbox has A, B and C, nothing moves.
  CHECK(kf->apply_page("wkA", "", msgs({{"wkA", "wm1", 5000, "A"}, {"wkA", "wm1", 5000, "B"},
                                        {"wkA", "wm1", 5000, "C"}}),
                       30)
            .empty());
  CHECK(kf->window("wkA", "wm1", "m").last_customer_ms == 5002);
  // Without a msgid only a later second moves the window (as before); a later second moves it to
  // that second.
  CHECK(kf->apply_page("wkA", "", msgs({{"wkA", "wm1", 5000, ""}}), 40).empty());
  CHECK(kf->apply_page("wkA", "", msgs({{"wkA", "wm1", 6000, "D"}}), 50).size() == 1);
  CHECK(kf->window("wkA", "wm1", "m").last_customer_ms == 6000);
  // An older second's message never moves it back, stored or not.
  CHECK(kf->apply_page("wkA", "", msgs({{"wkA", "wm1", 5000, "E"}}), 60).empty());
  CHECK(kf->window("wkA", "wm1", "m").last_customer_ms == 6000);
}

}  // namespace yuer::store
