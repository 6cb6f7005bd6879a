#include "adapters/wecom/callback_endpoint.h"

#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <cstdlib>

namespace yuer::adapters::wecom {
namespace {

// The three signed parameters are views: into the request target for a plain target (no copy,
// no allocation per request), or into `decoded` when Boost.URL had to decode them. A Query must
// not be copied (the views would point into the copy's source) and lives no longer than the
// request it was parsed from.
struct Query {
  std::string_view msg_signature;
  std::string_view timestamp;
  std::string_view nonce;
  std::string echostr;
  std::array<std::string, 3> decoded;  // storage for the three views on the Boost.URL path
  Query() = default;
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query(Query&&) = delete;
};

// `value` must outlive `q`, unless `owned` is set: it is then copied into q.decoded.
void assign_param(Query& q, std::string_view key, std::string_view value, bool owned) {
  auto keep = [&](std::size_t slot, std::string_view& field) {
    if (owned) {
      q.decoded[slot] = value;
      field = q.decoded[slot];
    } else {
      field = value;
    }
  };
  if (key == "msg_signature") keep(0, q.msg_signature);
  else if (key == "timestamp") keep(1, q.timestamp);
  else if (key == "nonce") keep(2, q.nonce);
  else if (key == "echostr") q.echostr = value;
}

// Bytes that need no decoding and are valid everywhere in an origin-form target: unreserved
// characters, '/', '?', '=' and '&'. No '%' and no '+' (which form decoding turns into a space).
constexpr std::array<bool, 256> make_plain_table() {
  std::array<bool, 256> t{};
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (unsigned char c : std::string_view("-._~/?=&")) t[c] = true;
  return t;
}
constexpr std::array<bool, 256> kPlain = make_plain_table();

// True for "/path?query" made of kPlain bytes only: Boost.URL would accept it and decode every
// part to itself, so it can be split directly (WeCom's targets always look like this).
bool is_plain_target(std::string_view target) {
  if (target.empty() || target.front() != '/') return false;
  for (unsigned char c : target)
    if (!kPlain[c]) return false;
  return true;
}

// msg_signature, timestamp and nonce are required; echostr only for GET. For a repeated key the
// last value counts.
// Fills `q` (fresh) from `target`, which must outlive it.
Result<void> parse_query(std::string_view target, bool need_echostr, Query& q) {
  if (is_plain_target(target)) {
    // Same result as the Boost.URL path below: params split at '&', key and value at the first '='.
    const auto mark = target.find('?');
    if (mark != std::string_view::npos) {
      std::string_view query = target.substr(mark + 1);
      for (;;) {
        const auto amp = query.find('&');
        const std::string_view param = query.substr(0, amp);
        const auto eq = param.find('=');
        assign_param(q, param.substr(0, eq), eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1),
                     false);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
      }
    }
  } else {
    auto url = boost::urls::parse_origin_form(target);
    if (!url) return fail("callback.bad_query", "request target is not a valid URL");
    for (auto p : url->params()) assign_param(q, p.key, p.value, true);
  }
  // Base64 never holds a space: a raw '+' decoded as space by form rules is put back (§1.4).
  for (auto& c : q.echostr)
    if (c == ' ') c = '+';
  if (q.msg_signature.empty() || q.timestamp.empty() || q.nonce.empty() || (need_echostr && q.echostr.empty()))
    return fail("callback.bad_query", need_echostr ? "msg_signature, timestamp, nonce and echostr are required"
                                                   : "msg_signature, timestamp and nonce are required");
  if (q.timestamp.size() > 20 || q.nonce.size() > 64 || q.msg_signature.size() != 40)
    return fail("callback.bad_query", "query parameter has an impossible length");
  return {};
}

bool parse_int64(std::string_view s, std::int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// 403 for requests that do not come from WeCom (signature, receiver id, stale); 400 for malformed.
http::Status status_for(const std::string& code) {
  if (code == "crypto.bad_signature" || code == "crypto.bad_receiveid" || code == "callback.stale_timestamp")
    return http::Status::forbidden;
  if (code == "store.unavailable") return http::Status::service_unavailable;
  return http::Status::bad_request;
}

std::string reason_of(const std::string& code) {
  auto dot = code.find('.');
  return dot == std::string::npos ? code : code.substr(dot + 1);
}

}  // namespace

Result<std::unique_ptr<CallbackEndpoint>> CallbackEndpoint::create(ReceiverConfig config, model::Inbox& inbox,
                                                                    const Clock& clock, metrics::Registry& metrics) {
  auto crypt = MsgCrypt::create(config.token, config.aes_key, config.receive_id);
  if (!crypt) return crypt.error();
  return std::unique_ptr<CallbackEndpoint>(
      new CallbackEndpoint(std::move(config), std::move(*crypt), inbox, clock, metrics));
}

CallbackEndpoint::CallbackEndpoint(ReceiverConfig config, MsgCrypt crypt, model::Inbox& inbox, const Clock& clock,
                                   metrics::Registry& metrics)
    : config_(std::move(config)),
      crypt_(std::make_shared<const MsgCrypt>(std::move(crypt))),
      inbox_(inbox),
      clock_(clock),
      metrics_(metrics),
      replays_(config_.replay_cache_size, 2 * config_.replay_window_s),
      verified_(metrics.counter("yuer_callback_verifications_total", "URL verifications answered",
                                {{"receiver", config_.name}})),
      stored_(metrics.counter("yuer_callback_accepted_total", "Callbacks committed and acknowledged",
                              {{"receiver", config_.name}, {"result", "stored"}})),
      duplicates_(metrics.counter("yuer_callback_accepted_total", "Callbacks committed and acknowledged",
                                  {{"receiver", config_.name}, {"result", "duplicate"}})),
      replayed_(metrics.counter("yuer_callback_accepted_total", "Callbacks committed and acknowledged",
                                {{"receiver", config_.name}, {"result", "replay"}})) {
  config_.token.clear();
  config_.aes_key.clear();
}

Result<void> CallbackEndpoint::rekey(const std::string& token, const std::string& aes_key) {
  auto crypt = MsgCrypt::create(token, aes_key, config_.receive_id);
  if (!crypt) return crypt.error();
  auto fresh = std::make_shared<const MsgCrypt>(std::move(*crypt));
  std::lock_guard lock(crypt_mu_);
  crypt_.swap(fresh);
  return {};
}

std::shared_ptr<const MsgCrypt> CallbackEndpoint::crypt() const {
  std::lock_guard lock(crypt_mu_);
  return crypt_;
}

http::Response CallbackEndpoint::reject(const http::Request& req, const Error& e) {
  metrics_.counter("yuer_callback_rejects_total", "Callbacks refused, by reason",
                   {{"receiver", config_.name}, {"reason", reason_of(e.code)}})
      .inc();
  // The code and message never hold the payload or a secret; the query is not logged either.
  const auto status = status_for(e.code);
  spdlog::log(status == http::Status::service_unavailable ? spdlog::level::err : spdlog::level::warn,
              "callback {} receiver={} code={} reason={}",
              status == http::Status::service_unavailable ? "not stored, WeCom will retry" : "rejected",
              config_.name, e.code, e.message);
  return http::make_error(req, status, e.code, e.message);
}

awaitable<http::Response> CallbackEndpoint::handle(http::Request req) {
  if (req.method() == http::Verb::get) {
    Query q;
    if (auto parsed = parse_query(req.target(), true, q); !parsed) co_return reject(req, parsed.error());
    auto plain = crypt()->verify_and_decrypt(q.msg_signature, q.timestamp, q.nonce, q.echostr);
    if (!plain) co_return reject(req, plain.error());
    verified_.inc();
    spdlog::info("callback URL verified receiver={}", config_.name);
    // The bare plaintext: no quotes, no BOM, no newline (§1.4 step 6).
    co_return http::make_response(req, http::Status::ok, std::move(*plain), "text/plain");
  }
  if (req.method() == http::Verb::post) co_return co_await deliver(std::move(req));
  auto rsp = http::make_error(req, http::Status::method_not_allowed, "callback.bad_method", "use GET or POST");
  rsp.set(boost::beast::http::field::allow, "GET, POST");
  co_return rsp;
}

awaitable<http::Response> CallbackEndpoint::deliver(http::Request req) {
  Query q;  // views into req.target(); req outlives q (both live in this frame, req declared first)
  if (auto parsed = parse_query(req.target(), false, q); !parsed) co_return reject(req, parsed.error());
  std::int64_t ts = 0;
  if (!parse_int64(q.timestamp, ts)) co_return reject(req, fail("callback.bad_query", "timestamp is not a number"));
  const std::int64_t now = clock_.unix_seconds();
  if (std::llabs(now - ts) > config_.replay_window_s)
    co_return reject(req, fail("callback.stale_timestamp", "timestamp outside the replay window"));

  auto encrypted = extract_encrypted_in_place(config_.format, req.body());  // req.body() is ours
  if (!encrypted) co_return reject(req, encrypted.error());
  auto plain = crypt()->verify_and_decrypt(q.msg_signature, q.timestamp, q.nonce, *encrypted);
  if (!plain) co_return reject(req, plain.error());

  // The same signed request again: it was committed before, so acknowledge without storing.
  bool replay = false;
  {
    std::lock_guard lock(replays_mu_);
    replay = replays_.contains(q.timestamp, q.nonce, q.msg_signature, now);
  }
  if (replay) {
    replayed_.inc();
    co_return http::make_response(req, http::Status::ok, {});
  }

  auto fields = config_.format == EnvelopeFormat::kXml ? parse_xml_payload(*plain) : parse_json_payload(*plain);
  if (!fields) co_return reject(req, fields.error());

  model::InboundEvent event;
  event.receiver = config_.name;
  event.channel = config_.channel;
  event.kind = std::move(fields->kind);
  event.dedupe_key = std::move(fields->dedupe_key);
  event.from_user = std::move(fields->from_user);
  event.created_at = fields->created_at;
  event.received_at = now;
  event.payload = std::move(*plain);

  auto accepted = co_await inbox_.accept(std::move(event));
  if (!accepted) co_return reject(req, accepted.error());
  (accepted->duplicate ? duplicates_ : stored_).inc();
  {
    std::lock_guard lock(replays_mu_);
    replays_.remember(q.timestamp, q.nonce, q.msg_signature, clock_.unix_seconds());
  }
  // An empty 200 is always a valid answer: "received, nothing to say" (§1.6).
  co_return http::make_response(req, http::Status::ok, {});
}

}  // namespace yuer::adapters::wecom
