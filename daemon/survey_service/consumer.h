// The survey conversations' durable inbox consumer, shared by every chat channel (微信客服 "kf",
// the self-built app "app"). A channel states its own rules (ChannelRules: how a row reads, what
// a click means, how replies look); the consumer does the rest the same way for all of them:
//
// per page of inbox rows (receiver = the channel's name, after the stored cursor of that name):
// one store hop reads the rounds, the users' bindings, their conversation states and (once per
// round) the snapshot's families → the engine turns run in memory → every reply is queued in ONE
// outbox transaction with keys "survey:<channel>:<inbox row id>:<i>" → ONE survey-store
// transaction writes bindings, states (per (channel, user, round)), responses and the cursor. A
// crash between the two replays the page: the same states go in, the same replies come out (the
// engine is pure, dates come from the message's own time), and the outbox drops the known keys.
// A failed page (store or outbox error) is logged and tried again after `retry_after`; nothing
// is skipped. Everything runs on the io thread; store calls hop to the store pool (STYLE D4).
#pragma once

#include "daemon/base/clock.h"
#include "daemon/base/result.h"
#include "daemon/model/inbound_event.h"
#include "daemon/model/outbox_item.h"
#include "daemon/store/org_store.h"
#include "daemon/store/store.h"
#include "daemon/store/survey_store.h"
#include "daemon/survey/definition.h"
#include "daemon/survey/engine.h"
#include "daemon/survey/roster.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace yuer::survey_service {

using boost::asio::awaitable;

// One reply to queue in the outbox.
struct Reply {
  std::string route;   // "kf", "app", "app_card"
  std::string target;  // kf: "<open_kfid>/<external_userid>"; app: the member's userid
  model::ContentKind kind = model::ContentKind::kText;
  std::string text;    // the text, or the card JSON (kTemplateCard)
  std::string key;     // idempotency key
  std::int64_t expire_at_ms = 0;  // 0: never
};
// Queues all replies in ONE outbox transaction (a repeated key is not queued again). Must not throw.
using SendReplies = std::function<awaitable<Result<void>>(std::vector<Reply>)>;

// One inbox row as its channel reads it.
struct Message {
  enum class Kind { kOther, kText, kClick, kBind };
  std::int64_t id = 0;
  Kind kind = Kind::kOther;
  std::string user;            // the channel's user id (external_userid, member userid); '' = none
  std::string text;            // kText: what the user typed
  std::string scene;           // kBind: a link scene naming round and township (kf enter_session)
  std::string reply_to;        // outbox target of the replies
  std::int64_t send_time = 0;  // unix seconds of the message (the engine's "today")
  // kClick (template_card_event, https://developer.work.weixin.qq.com/document/path/90240)
  std::string task_id, card_type, event_key, response_code;
  std::vector<std::pair<std::string, std::string>> selected;  // (QuestionKey, OptionId)
};

// What a message means for the conversation: engine input, or a reply without a turn.
struct Input {
  bool turn = true;
  std::string text;   // turn: the engine's input
  std::string reply;  // !turn: sent as it is ('' = nothing to say; the caller logs it)
};

// Everything one engine turn gives the channel to shape its replies.
struct TurnView {
  const Message& message;
  const store::SurveyRound& round;
  const survey::Survey& survey;
  const survey::Engine& engine;
  const survey::ConversationState& before;  // the state the message found
  const survey::ConversationState& after;
  const survey::Turn& turn;
};

class ChannelRules {
 public:
  virtual ~ChannelRules() = default;
  // The inbox receiver, the binding and conversation channel, and the cursor name.
  virtual std::string name() const = 0;
  // Never throws: an unreadable row is Kind::kOther.
  virtual Message read(const model::InboxRow& row) const = 0;
  // Whether a user without a binding answers the newest open round (kf: a parent who never
  // opened a round's link); otherwise their messages are ignored with a log line.
  virtual bool bind_unknown_to_newest() const = 0;
  // What `m` (kText or kClick) means given the state it finds. Default: typed text is a turn.
  virtual Input input(const Message& m, const survey::ConversationState& st, const survey::Survey& s) const;
  // The replies of one turn, in order, without keys (the consumer numbers them).
  virtual std::vector<Reply> replies(const TurnView& t) const = 0;
  // The engine's external_userid for `m` ('' when the channel has none: identification then goes
  // through birth date + phone digits). Default: the user id.
  virtual std::string external_userid(const Message& m) const { return m.user; }
  // A plain text reply to `m` (Input::reply).
  virtual Reply text_reply(const Message& m, std::string text) const = 0;
};

struct ConsumerSettings {
  std::chrono::milliseconds poll{200};          // inbox poll when idle
  std::chrono::milliseconds retry_after{2000};  // after a failed page
  int page = 200;                               // inbox rows per page
};

class Consumer {
 public:
  // Stores are used only on `store_pool`'s thread. `definitions` and `engines` (by survey id),
  // and everything else passed, must outlive the consumer.
  Consumer(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::InboxStore& inbox,
           store::SurveyStore& surveys, store::OrgStore& org, const std::vector<survey::Survey>& definitions,
           const std::map<std::string, std::unique_ptr<survey::Engine>>& engines, std::unique_ptr<ChannelRules> rules,
           const Clock& clock, ConsumerSettings settings, SendReplies send);
  ~Consumer();

  // Consumes the channel's inbox rows until stop(); store errors are logged and retried.
  awaitable<void> run();
  void stop();
  void poke();
  // The roster changed: the rounds' cached rosters are read again before the next page.
  void roster_changed() { ++roster_gen_; }

  const ChannelRules& rules() const { return *rules_; }
  std::int64_t cursor() const { return cursor_; }
  std::uint64_t turns() const { return turns_; }

 private:
  awaitable<bool> handle_page(std::vector<model::InboxRow> rows);

  boost::asio::any_io_executor io_;
  boost::asio::thread_pool& store_pool_;
  store::InboxStore& inbox_;
  store::SurveyStore& surveys_;
  store::OrgStore& org_;
  const std::vector<survey::Survey>& definitions_;
  const std::map<std::string, std::unique_ptr<survey::Engine>>& engines_;
  std::unique_ptr<ChannelRules> rules_;
  const Clock& clock_;
  ConsumerSettings settings_;
  SendReplies send_;
  boost::asio::steady_timer timer_;
  std::map<std::int64_t, std::shared_ptr<const survey::VectorRoster>> rosters_;  // per round, indexed
  std::uint64_t roster_gen_ = 0;
  std::uint64_t rosters_loaded_gen_ = 0;
  std::int64_t cursor_ = 0;
  std::uint64_t turns_ = 0;
  bool stopping_ = false;
  bool poked_ = false;
};

// The reply keys of a row: "survey:<channel>:<row id>:<i>".
std::string reply_key(const std::string& channel, std::int64_t row_id, std::size_t i);

// Store-thread steps every inbox consumer of this folder takes (run them with co_spawn on the
// store pool): a cursor of survey_cursor, and up to `limit` rows of `receiver` after `after`, oldest
// first. Throw StoreError.
awaitable<std::int64_t> load_cursor(store::SurveyStore* s, std::string name);
awaitable<std::vector<model::InboxRow>> load_rows(store::InboxStore* inbox, std::string receiver, std::int64_t after,
                                                  int limit);

}  // namespace yuer::survey_service
