#include "daemon/inbox/executor_inbox.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace yuer::inbox {
namespace {

namespace net = boost::asio;

// Not thread-safe on purpose: it records the thread each accept() ran on, without a lock, which
// is correct only if every call runs on one thread (ASan/TSan builds would catch the rest).
class OneThreadInbox final : public model::Inbox {
 public:
  net::awaitable<Result<model::Accepted>> accept(model::InboundEvent event) override {
    threads.push_back(std::this_thread::get_id());
    keys.push_back(event.dedupe_key);
    co_return model::Accepted{static_cast<std::int64_t>(keys.size()), false};
  }
  std::vector<std::thread::id> threads;
  std::vector<std::string> keys;
};

net::awaitable<void> call(model::Inbox* inbox, std::string key, int* ok, std::thread::id* resumed_on) {
  model::InboundEvent e;
  e.receiver = "app";
  e.dedupe_key = std::move(key);
  auto r = co_await inbox->accept(std::move(e));
  *ok = r.has_value() ? 1 : 0;
  *resumed_on = std::this_thread::get_id();
}

TEST_CASE("ExecutorInbox runs the inner accept on its executor and resumes callers on theirs", "[inbox]") {
  net::io_context main_ctx(1);
  auto guard = net::make_work_guard(main_ctx);
  std::thread main_thread([&] { main_ctx.run(); });
  OneThreadInbox inner;
  ExecutorInbox inbox(inner, main_ctx.get_executor());

  constexpr int kThreads = 3;
  constexpr int kCalls = 100;
  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<std::vector<int>> ok(kThreads, std::vector<int>(kCalls, 0));
  std::vector<std::vector<std::thread::id>> resumed(kThreads, std::vector<std::thread::id>(kCalls));
  for (int t = 0; t < kThreads; ++t) {
    contexts.push_back(std::make_unique<net::io_context>(1));
    for (int i = 0; i < kCalls; ++i)
      net::co_spawn(*contexts.back(),
                    call(&inbox, std::to_string(t) + ":" + std::to_string(i), &ok[t][i],
                         &resumed[t][i]),
                    net::detached);
  }
  std::vector<std::thread::id> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([ctx = contexts[t].get(), id = &ids[t]] {
      *id = std::this_thread::get_id();
      ctx->run();
    });
  for (auto& th : threads) th.join();
  const auto main_id = main_thread.get_id();
  guard.reset();
  main_thread.join();

  REQUIRE(inner.keys.size() == kThreads * kCalls);
  for (auto id : inner.threads) CHECK(id == main_id);
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kCalls; ++i) {
      CAPTURE(t, i);
      CHECK(ok[t][i] == 1);
      CHECK(resumed[t][i] == ids[t]);
    }
}

}  // namespace
}  // namespace yuer::inbox
