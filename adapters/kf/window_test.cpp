#include "adapters/kf/window.h"

#include "adapters/kf/kf_channel.h"
#include "adapters/kf/kf_sync.h"
#include "adapters/wecom/errcodes.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <set>

namespace yuer::adapters::kf {
namespace {

constexpr std::int64_t kHour = 3600 * 1000;
constexpr std::int64_t kMin = 60 * 1000;
constexpr std::int64_t kT = 1'700'000'000'000;  // the parent's last message

store::KfWindow win(std::int64_t last, int sends, bool counted = false, std::int64_t blocked = 0) {
  store::KfWindow w;
  w.last_customer_ms = last;
  w.sends = sends;
  w.counted = counted;
  w.blocked_ms = blocked;
  return w;
}

}  // namespace

TEST_CASE("kf window rules: 48 h less the margin after the parent's last message, at most 5 sends", "[adapters][kf]") {
  struct Case {
    const char* label;
    store::KfWindow w;
    std::int64_t now;
    Verdict expected;
  };
  const Case cases[] = {
      {"never wrote", win(0, 0), kT, Verdict::kNeverWrote},
      {"just wrote", win(kT, 0), kT, Verdict::kSend},
      {"4 sent: the 5th goes", win(kT, 4), kT + kHour, Verdict::kSend},
      {"5 sent: the 6th waits", win(kT, 5), kT + kHour, Verdict::kQuotaUsed},
      {"5 sent but this msgid is one of them (retry)", win(kT, 5, true), kT + kHour, Verdict::kSend},
      {"after a new message nothing is counted", win(kT + 2 * kHour, 0), kT + 2 * kHour, Verdict::kSend},
      {"last minute before the margin", win(kT, 0), kT + 48 * kHour - 10 * kMin - 1, Verdict::kSend},
      {"inside the margin", win(kT, 0), kT + 48 * kHour - 10 * kMin, Verdict::kClosed},
      {"after 48 h", win(kT, 0), kT + 49 * kHour, Verdict::kClosed},
      {"after 48 h even for a counted retry", win(kT, 1, true), kT + 49 * kHour, Verdict::kClosed},
      {"WeCom refused in this window", win(kT, 2, false, kT), kT + kHour, Verdict::kRefused},
      {"a refusal of an older window does not hold", win(kT, 2, false, kT - kHour), kT + kHour, Verdict::kSend},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    CHECK(judge(c.w, c.now, WindowRules{}) == c.expected);
    if (c.expected == Verdict::kSend) CHECK(wait_reason(c.expected).empty());
    else CHECK_FALSE(wait_reason(c.expected).empty());
  }
}

TEST_CASE("kf targets: open_kfid/external_userid, each 1..64 bytes of [0-9a-zA-Z_-]", "[adapters][kf]") {
  auto ok = parse_target("wkDemo_1/wmAbC-9");
  REQUIRE(ok.has_value());
  CHECK(ok->open_kfid == "wkDemo_1");
  CHECK(ok->external_userid == "wmAbC-9");
  CHECK(format_target(*ok) == "wkDemo_1/wmAbC-9");
  for (const char* bad : {"", "wk", "wk/", "/wm", "wk/wm/x", "wk /wm", "wk/wm\xe4", "a/b?c"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_target(bad).has_value());
  }
  CHECK_FALSE(parse_target("wk/" + std::string(65, 'a')).has_value());
}

TEST_CASE("kf msgid: 32 bytes of [0-9a-f], the same for one key, different for two", "[adapters][kf]") {
  const std::string a = msgid_for("push:abc#1/2"), b = msgid_for("push:abc#2/2");
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a == msgid_for("push:abc#1/2"));
  CHECK(a != b);
}

TEST_CASE("kf send_msg body: text to the parent from the account, with our msgid", "[adapters][kf]") {
  model::OutboxItem item;
  item.content = "宝宝满 6 个月了吗？";
  auto j = nlohmann::json::parse(send_body({"wkA", "wmB"}, "m1", item));
  CHECK(j["touser"] == "wmB");
  CHECK(j["open_kfid"] == "wkA");
  CHECK(j["msgid"] == "m1");
  CHECK(j["msgtype"] == "text");
  CHECK(j["text"]["content"] == item.content);
}

TEST_CASE("kf errcodes: window refusals wait, account errors are permanent", "[adapters][kf]") {
  using model::OutcomeKind;
  auto [errcode, kind] = GENERATE(table<int, OutcomeKind>({{95001, OutcomeKind::kWaitForEvent},
                                                           {95002, OutcomeKind::kWaitForEvent},
                                                           {95013, OutcomeKind::kWaitForEvent},
                                                           {95018, OutcomeKind::kWaitForEvent},
                                                           {95031, OutcomeKind::kWaitForEvent},
                                                           {95000, OutcomeKind::kPermanent},
                                                           {95004, OutcomeKind::kPermanent},
                                                           {95007, OutcomeKind::kPermanent}}));
  CAPTURE(errcode);
  auto o = wecom::classify_errcode(errcode);
  CHECK(o.kind == kind);
  CHECK(o.errcode == errcode);
  CHECK_FALSE(o.reason.empty());
  CHECK(wecom::is_bad_kf_sync_token(95007));
  CHECK_FALSE(wecom::is_bad_kf_sync_token(95001));
}

TEST_CASE("kf doorbell: OpenKfId and Token from the decrypted kf_msg_or_event", "[adapters][kf]") {
  auto d = parse_doorbell(
      "<xml><ToUserName><![CDATA[ww1]]></ToUserName><CreateTime>1348831860</CreateTime>"
      "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
      "<Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token>"
      "<OpenKfId><![CDATA[wkxxxxxxx]]></OpenKfId></xml>");
  REQUIRE(d.has_value());
  CHECK(d->open_kfid == "wkxxxxxxx");
  CHECK(d->token == "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR");
  CHECK_FALSE(parse_doorbell("<xml><Token>t</Token></xml>").has_value());
  CHECK_FALSE(parse_doorbell("not xml <").has_value());
}

}  // namespace yuer::adapters::kf
