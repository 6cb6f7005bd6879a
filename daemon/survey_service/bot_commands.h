// The management groups' robot commands (「@助手 进度」, issue 7): a durable consumer of the inbox
// rows of the 智能机器人 receivers ("bot/<name>", aibot callbacks already verified, decrypted and
// stored). For each text message (kind "aibot:text") it reads the command (reports.h), finds the
// management group of the message's chatid (GroupStore), computes the coverage of that group's
// unit in every open round and queues ONE reply through the robot's response_url (outbox route
// "aibot", markdown, key "survey:bot:<inbox row id>"). The cursor (survey_cursor "bot/<name>") moves
// only after the reply is queued: a crash in between replays the row and the outbox drops the
// repeated key, so every mention gets exactly one reply, also across a restart. The response_url
// works once and for one hour (https://developer.work.weixin.qq.com/document/path/101138); a reply
// queued later than that fails at WeCom and is not retried. Everything runs on the io thread;
// store calls hop to the store pool.
#pragma once

#include "daemon/base/clock.h"
#include "daemon/base/result.h"
#include "daemon/store/group_store.h"
#include "daemon/store/org_store.h"
#include "daemon/store/store.h"
#include "daemon/store/survey_store.h"
#include "daemon/survey/coverage.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace yuer::survey_service {

using boost::asio::awaitable;

inline constexpr const char* kBotRoute = "aibot";  // outbox route of the response_url replies

// One reply to queue: the response_url (outbox target), markdown text, idempotency key.
struct BotReply {
  std::string response_url;
  std::string text;
  std::string key;
};
// Queues the reply (a repeated key is not queued again). Must not throw.
using SendBotReply = std::function<boost::asio::awaitable<Result<void>>(BotReply)>;

struct BotSettings {
  std::vector<std::string> receivers;  // "bot/<name>" of every configured robot
  std::chrono::milliseconds poll{500};
  std::chrono::milliseconds retry_after{2000};
  int page = 100;
  survey::Thresholds thresholds;
};

// The text of an aibot message row, its chat and response_url (empty fields when absent).
struct BotMessage {
  std::string msgid, chatid, chattype, text, response_url;
};
BotMessage read_bot_message(const std::string& payload);

class BotCommands {
 public:
  // Stores are used only on `store_pool`'s thread. Everything passed must outlive this.
  BotCommands(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::InboxStore& inbox,
              store::SurveyStore& surveys, store::OrgStore& org, store::GroupStore& groups, const Clock& clock,
              BotSettings settings, SendBotReply send);
  awaitable<void> run();
  void stop();
  void poke();
  std::uint64_t replies() const { return replies_; }

 private:
  struct Answer;
  awaitable<bool> handle(const std::string& receiver, std::int64_t& cursor);

  boost::asio::any_io_executor io_;
  boost::asio::thread_pool& store_pool_;
  store::InboxStore& inbox_;
  store::SurveyStore& surveys_;
  store::OrgStore& org_;
  store::GroupStore& groups_;
  const Clock& clock_;
  BotSettings settings_;
  SendBotReply send_;
  boost::asio::steady_timer timer_;
  std::uint64_t replies_ = 0;
  bool stopping_ = false;
  bool poked_ = false;
};

}  // namespace yuer::survey_service
