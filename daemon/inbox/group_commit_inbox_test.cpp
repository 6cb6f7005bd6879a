#include "daemon/inbox/group_commit_inbox.h"

#include "daemon/store/store_testing.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace yuer::inbox {
namespace {

namespace net = boost::asio;
using store::testing::make_event;
using store::testing::TempDir;
using store::testing::cpu_seconds;

// The store seam as the inbox sees it: records every batch, can fail the first ones, and hands
// the rest to a real SQLite store. insert_inbox runs on the store thread, the test reads on the
// io thread after the run, hence the mutex.
class RecordingStore final : public store::InboxStore {
 public:
  enum class Fault { kNone, kStoreFull, kLogicError };
  struct Call {
    std::vector<std::string> keys;  // dedupe keys, in batch order
    bool failed = false;
  };

  explicit RecordingStore(store::InboxStore& real) : real_(real) {}

  // The first `batches` calls fail with `fault`; later ones reach the real store.
  void fail_first(int batches, Fault fault) {
    std::lock_guard lock(mu_);
    fail_batches_ = batches;
    fault_ = fault;
  }

  std::vector<store::InsertResult> insert_inbox(const std::vector<model::InboundEvent>& events) override {
    Fault fault = Fault::kNone;
    {
      std::lock_guard lock(mu_);
      Call call;
      for (const auto& e : events) call.keys.push_back(e.dedupe_key);
      if (static_cast<int>(calls_.size()) < fail_batches_) {
        fault = fault_;
        call.failed = true;
      }
      calls_.push_back(std::move(call));
    }
    if (fault == Fault::kStoreFull) throw store::StoreError("store.full", "test.db: insert_inbox failed: disk full (injected)");
    if (fault == Fault::kLogicError) throw std::logic_error("injected bug");
    return real_.insert_inbox(events);
  }
  std::vector<model::InboxRow> list_inbox(const store::InboxQuery& q) override { return real_.list_inbox(q); }
  std::int64_t count_inbox() override { return real_.count_inbox(); }

  std::vector<Call> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  store::InboxStore& real_;
  mutable std::mutex mu_;
  std::vector<Call> calls_;
  int fail_batches_ = 0;
  Fault fault_ = Fault::kNone;
};

// A real io_context, a one-thread store pool and a real SQLite store in a temp folder. Members
// are destroyed in reverse: the inbox first, then the pool (joined), then the store.
struct Rig {
  explicit Rig(Settings settings = {}, std::string synchronous = "full") {
    store::Settings s;
    s.path = dir.file("yuer.db");
    s.synchronous = std::move(synchronous);
    auto opened = store::open_sqlite_store(s);
    if (!opened) throw std::runtime_error(opened.error().message);
    real = std::move(*opened);
    recording.emplace(*real);
    inbox.emplace(io.get_executor(), pool, *recording, metrics, settings);
  }

  // Runs the io loop until every spawned coroutine ended. The bound is a guard against a hang,
  // not a timing assertion.
  void run() {
    io.run_for(std::chrono::seconds(120));
    REQUIRE(io.stopped());
  }

  std::uint64_t counter(const std::string& name) { return metrics.counter(name, "").value(); }

  TempDir dir;
  std::unique_ptr<store::Store> real;
  std::optional<RecordingStore> recording;
  metrics::Registry metrics;
  net::io_context io;
  net::thread_pool pool{1};
  std::optional<GroupCommitInbox> inbox;
};

struct Outcome {
  int completions = 0;
  std::optional<Result<model::Accepted>> result;
  std::string exception;  // what() of an exception accept() threw
};

// One WeCom callback: accept() and record how it ended. Named coroutine, arguments by value.
net::awaitable<void> deliver(model::Inbox* inbox, model::InboundEvent event, Outcome* out) {
  try {
    auto r = co_await inbox->accept(std::move(event));
    out->result = std::move(r);
  } catch (const std::exception& e) {
    out->exception = e.what();
  }
  ++out->completions;
}

// One keep-alive connection: its events one after another; an event whose commit failed is sent
// again once, as WeCom retries a callback that was not acknowledged.
struct Attempt {
  std::string key;
  Result<model::Accepted> result;
};
net::awaitable<void> connection(model::Inbox* inbox, std::vector<model::InboundEvent> events,
                                std::vector<Attempt>* attempts) {
  for (auto& e : events) {
    for (int tries = 0; tries < 2; ++tries) {
      auto r = co_await inbox->accept(e);
      const bool failed = !r.has_value();
      attempts->push_back(Attempt{e.dedupe_key, std::move(r)});
      if (!failed) break;
    }
  }
}

void rethrow_failure(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

std::string key_of(int i) { return "msg:" + std::to_string(i); }

TEST_CASE("1000 concurrent accepts complete once each, grouped into few batches, duplicates flagged", "[inbox]") {
  const std::size_t max_batch = GENERATE(std::size_t{2048}, std::size_t{64}, std::size_t{7});
  CAPTURE(max_batch);
  Rig rig(Settings{max_batch});

  // Keys 0..199 are delivered twice (a WeCom retry racing the original), 200..799 once.
  constexpr int kAccepts = 1000;
  constexpr int kDistinct = 800;
  std::vector<Outcome> outcomes(kAccepts);
  for (int i = 0; i < kAccepts; ++i)
    net::co_spawn(rig.io, deliver(&*rig.inbox, make_event("app", key_of(i % kDistinct)), &outcomes[i]),
                  rethrow_failure);
  rig.run();

  std::map<std::string, std::int64_t> id_of;
  std::map<std::string, int> fresh, seen;
  for (int i = 0; i < kAccepts; ++i) {
    CAPTURE(i);
    REQUIRE(outcomes[i].completions == 1);
    REQUIRE(outcomes[i].result.has_value());
    REQUIRE(outcomes[i].result->has_value());
    const auto accepted = **outcomes[i].result;
    const auto key = key_of(i % kDistinct);
    auto [it, inserted] = id_of.emplace(key, accepted.id);
    CHECK(it->second == accepted.id);
    if (!accepted.duplicate) ++fresh[key];
    ++seen[key];
  }
  CHECK(id_of.size() == kDistinct);
  for (const auto& [key, n] : seen) {
    CAPTURE(key);
    CHECK(fresh[key] == 1);
  }

  CHECK(rig.real->count_inbox() == kDistinct);
  store::InboxQuery all;
  all.limit = 1000;
  for (const auto& row : rig.real->list_inbox(all)) {
    CAPTURE(row.event.dedupe_key);
    CHECK(row.id == id_of.at(row.event.dedupe_key));
    CHECK(row.deliveries == seen.at(row.event.dedupe_key));
  }

  const auto calls = rig.recording->calls();
  std::size_t total = 0;
  for (const auto& c : calls) {
    CHECK(c.keys.size() <= max_batch);
    total += c.keys.size();
  }
  CHECK(total == kAccepts);
  CHECK(calls.size() < kAccepts);
  CHECK(calls.size() >= (kAccepts + max_batch - 1) / max_batch);
  CHECK(rig.counter("yuer_store_commit_batches_total") == calls.size());
  CHECK(rig.counter("yuer_store_commit_failures_total") == 0);
  CHECK(rig.inbox->pending() == 0);
  CHECK_THAT(rig.metrics.render(), Catch::Contains("yuer_inbox_pending 0\n"));
  CHECK_THAT(rig.metrics.render(), Catch::Contains("yuer_store_commit_seconds_count " + std::to_string(calls.size())));
}

TEST_CASE("events arriving while a commit runs wait for the next batch, in order per connection", "[inbox]") {
  Rig rig;
  constexpr int kConnections = 50;
  constexpr int kPerConnection = 20;
  std::vector<std::vector<Attempt>> attempts(kConnections);
  for (int c = 0; c < kConnections; ++c) {
    std::vector<model::InboundEvent> events;
    for (int i = 0; i < kPerConnection; ++i) events.push_back(make_event("bot/a", key_of(c * kPerConnection + i)));
    net::co_spawn(rig.io, connection(&*rig.inbox, std::move(events), &attempts[c]), rethrow_failure);
  }
  rig.run();

  for (int c = 0; c < kConnections; ++c) {
    CAPTURE(c);
    REQUIRE(attempts[c].size() == kPerConnection);
    for (int i = 0; i < kPerConnection; ++i) {
      REQUIRE(attempts[c][i].result.has_value());
      CHECK_FALSE(attempts[c][i].result->duplicate);
      // A connection's next event is accepted only after the previous one committed, so it
      // lands in a later transaction with a larger id.
      if (i > 0) CHECK(attempts[c][i].result->id > attempts[c][i - 1].result->id);
    }
  }
  CHECK(rig.real->count_inbox() == kConnections * kPerConnection);
  const auto calls = rig.recording->calls();
  CHECK(calls.size() < kConnections * kPerConnection);
  CHECK(calls.size() >= kPerConnection);
}

TEST_CASE("a batch the store cannot commit fails as store.unavailable and stores nothing, later batches succeed",
          "[inbox]") {
  Rig rig;
  rig.recording->fail_first(1, RecordingStore::Fault::kStoreFull);
  constexpr int kConnections = 20;
  constexpr int kPerConnection = 3;
  std::vector<std::vector<Attempt>> attempts(kConnections);
  for (int c = 0; c < kConnections; ++c) {
    std::vector<model::InboundEvent> events;
    for (int i = 0; i < kPerConnection; ++i) events.push_back(make_event("app", key_of(c * kPerConnection + i)));
    net::co_spawn(rig.io, connection(&*rig.inbox, std::move(events), &attempts[c]), rethrow_failure);
  }
  rig.run();

  const auto calls = rig.recording->calls();
  REQUIRE(calls.size() >= 2);
  REQUIRE(calls[0].failed);
  const std::set<std::string> failed_keys(calls[0].keys.begin(), calls[0].keys.end());
  CHECK(failed_keys.size() == kConnections);  // the first event of every connection
  for (std::size_t i = 1; i < calls.size(); ++i) CHECK_FALSE(calls[i].failed);

  std::size_t failures = 0;
  for (const auto& per_connection : attempts) {
    for (std::size_t i = 0; i < per_connection.size(); ++i) {
      const auto& a = per_connection[i];
      CAPTURE(a.key);
      if (!a.result.has_value()) {
        ++failures;
        CHECK(failed_keys.count(a.key) == 1);
        CHECK(a.result.error().code == "store.unavailable");
        CHECK_THAT(a.result.error().message, Catch::Contains("store.full"));
        // The retry is not a duplicate: nothing of the failed batch was stored.
        REQUIRE(i + 1 < per_connection.size());
        REQUIRE(per_connection[i + 1].result.has_value());
        CHECK_FALSE(per_connection[i + 1].result->duplicate);
      } else {
        CHECK_FALSE(a.result->duplicate);
      }
    }
  }
  CHECK(failures == kConnections);
  CHECK(rig.real->count_inbox() == kConnections * kPerConnection);
  for (const auto& row : rig.real->list_inbox({})) CHECK(row.deliveries == 1);
  CHECK(rig.counter("yuer_store_commit_failures_total") == 1);
  CHECK(rig.counter("yuer_store_commit_batches_total") == calls.size() - 1);
  CHECK(rig.inbox->pending() == 0);
}

TEST_CASE("an unexpected exception from the store is rethrown in every accept of its batch", "[inbox]") {
  Rig rig;
  rig.recording->fail_first(1, RecordingStore::Fault::kLogicError);
  std::vector<Outcome> first(10);
  for (auto& o : first) {
    const auto i = static_cast<int>(&o - first.data());
    net::co_spawn(rig.io, deliver(&*rig.inbox, make_event("app", key_of(i)), &o), rethrow_failure);
  }
  rig.run();
  for (const auto& o : first) {
    CHECK(o.completions == 1);
    CHECK(o.exception == "injected bug");
  }

  // The loop survives: the next accept commits.
  Outcome later;
  rig.io.restart();
  net::co_spawn(rig.io, deliver(&*rig.inbox, make_event("app", key_of(0)), &later), rethrow_failure);
  rig.run();
  REQUIRE(later.result.has_value());
  REQUIRE(later.result->has_value());
  CHECK_FALSE((*later.result)->duplicate);
  CHECK(rig.real->count_inbox() == 1);
}

net::awaitable<void> deliver_then_destroy(std::optional<GroupCommitInbox>* inbox, model::InboundEvent event,
                                          Outcome* out) {
  out->result = co_await (*inbox)->accept(std::move(event));
  ++out->completions;
  inbox->reset();
}

TEST_CASE("the inbox may be destroyed as soon as its last accept() completed", "[inbox]") {
  Rig rig;
  Outcome out;
  net::co_spawn(rig.io, deliver_then_destroy(&rig.inbox, make_event("app", key_of(1)), &out), rethrow_failure);
  rig.run();
  CHECK_FALSE(rig.inbox.has_value());
  CHECK(out.completions == 1);
  REQUIRE(out.result.has_value());
  CHECK(out.result->has_value());
  CHECK(rig.real->count_inbox() == 1);
  // The registry outlives the inbox; its gauge must still be safe to read.
  CHECK_THAT(rig.metrics.render(), Catch::Contains("yuer_inbox_pending 0\n"));
}

net::awaitable<void> deliver_on_thread(model::Inbox* inbox, model::InboundEvent event, Outcome* out,
                                       std::thread::id* resumed_on) {
  out->result = co_await inbox->accept(std::move(event));
  *resumed_on = std::this_thread::get_id();
  ++out->completions;
}

// The HTTP server calls accept() from several io threads at once. Keys repeat across threads,
// so copies of one event race each other into the same or different batches.
TEST_CASE("accepts from several io threads are each stored once and resume on their own thread", "[inbox]") {
  const std::size_t max_batch = GENERATE(std::size_t{2048}, std::size_t{16});
  CAPTURE(max_batch);
  Rig rig(Settings{max_batch});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 300;
  constexpr int kDistinct = 500;
  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<std::vector<Outcome>> outcomes(kThreads, std::vector<Outcome>(kPerThread));
  std::vector<std::vector<std::thread::id>> resumed(kThreads, std::vector<std::thread::id>(kPerThread));
  for (int t = 0; t < kThreads; ++t) {
    contexts.push_back(std::make_unique<net::io_context>(1));
    for (int i = 0; i < kPerThread; ++i)
      net::co_spawn(*contexts.back(),
                    deliver_on_thread(&*rig.inbox, make_event("app", key_of((t * kPerThread + i) % kDistinct)),
                                      &outcomes[t][i], &resumed[t][i]),
                    rethrow_failure);
  }
  // Each thread runs until its last accept() completed: a waiting accept() keeps its io_context
  // busy (outstanding work), or run() would return early and the checks below would fail.
  std::vector<std::thread> threads;
  std::vector<std::thread::id> ids(kThreads);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([ctx = contexts[t].get(), id = &ids[t]] {
      *id = std::this_thread::get_id();
      ctx->run();
    });
  for (auto& th : threads) th.join();

  std::map<std::string, std::int64_t> id_of;
  std::map<std::string, int> fresh;
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kPerThread; ++i) {
      CAPTURE(t, i);
      REQUIRE(outcomes[t][i].completions == 1);
      REQUIRE(outcomes[t][i].result.has_value());
      REQUIRE(outcomes[t][i].result->has_value());
      CHECK(resumed[t][i] == ids[t]);
      const auto accepted = **outcomes[t][i].result;
      const auto key = key_of((t * kPerThread + i) % kDistinct);
      auto [it, inserted] = id_of.emplace(key, accepted.id);
      CHECK(it->second == accepted.id);
      if (!accepted.duplicate) ++fresh[key];
    }
  CHECK(id_of.size() == kDistinct);
  for (const auto& [key, n] : fresh) {
    CAPTURE(key);
    CHECK(n == 1);
  }
  CHECK(fresh.size() == kDistinct);
  CHECK(rig.real->count_inbox() == kDistinct);
  CHECK(rig.inbox->pending() == 0);
  std::size_t total = 0;
  for (const auto& c : rig.recording->calls()) {
    CHECK(c.keys.size() <= max_batch);
    total += c.keys.size();
  }
  CHECK(total == kThreads * kPerThread);
}

// End-to-end accept() throughput through a real store: C connections, each sending its events
// one after another (a keep-alive HTTP client), the way the callback benchmark drives yuerd.
//   yuer_unit_tests "[.bench]"
TEST_CASE("bench: accept() throughput through group commit", "[.bench][inbox]") {
  constexpr int kConnections = 512;
  constexpr int kPerConnection = 200;
  for (const char* sync : {"full", "normal"}) {
    Rig rig(Settings{}, sync);
    std::vector<std::vector<Attempt>> attempts(kConnections);
    for (int c = 0; c < kConnections; ++c) {
      std::vector<model::InboundEvent> events;
      for (int i = 0; i < kPerConnection; ++i)
        events.push_back(make_event("app", key_of(c * kPerConnection + i), "text", std::string(600, 'x')));
      net::co_spawn(rig.io, connection(&*rig.inbox, std::move(events), &attempts[c]), rethrow_failure);
    }
    const double cpu_start = cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    rig.run();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    const auto batches = rig.recording->calls().size();
    std::cout << "accept() synchronous=" << sync << ": " << kConnections * kPerConnection << " events in "
              << took.count() << " s = " << static_cast<long>(kConnections * kPerConnection / took.count())
              << " events/s, " << batches << " batches (" << kConnections * kPerConnection / batches
              << " events per batch); CPU (io + store threads) " << cpu_seconds() - cpu_start << " s\n";
    CHECK(rig.real->count_inbox() == kConnections * kPerConnection);
  }
}

}  // namespace
}  // namespace yuer::inbox
