#include "daemon/survey_service/app_cards.h"

#include <catch2/catch.hpp>

namespace yuer::survey_service {
namespace {

using nlohmann::json;

survey::Question single(const std::string& id, int options, bool dont_know = false, bool required = true) {
  survey::Question q;
  q.id = id;
  q.type = survey::QuestionType::kSingle;
  q.prompt = "问题";
  for (int i = 0; i < options; ++i) q.options.push_back({"o" + std::to_string(i), "选项" + std::to_string(i + 1), {}, false});
  q.dont_know = dont_know;
  q.required = required;
  return q;
}

TEST_CASE("app cards: single-choice questions become button or vote cards within WeCom's limits", "[survey_service][app]") {
  struct Case {
    const char* name;
    survey::Question q;
    const char* card_type;  // "" = no card (text)
    std::size_t choices;
  };
  survey::Question multiple = single("m", 3);
  multiple.type = survey::QuestionType::kMultiple;
  survey::Question integer = single("n", 0);
  integer.type = survey::QuestionType::kInteger;
  for (const auto& c : std::vector<Case>{
           {"3 options", single("ever_bf", 3), "button_interaction", 3},
           {"6 options", single("q6", 6), "button_interaction", 6},
           {"5 options + 不知道", single("q5", 5, true), "button_interaction", 6},
           {"5 options + 不知道 + 跳过", single("q5", 5, true, false), "vote_interaction", 7},
           {"7 options", single("q7", 7), "vote_interaction", 7},
           {"20 options", single("q20", 20), "vote_interaction", 20},
           {"21 options", single("q21", 21), "", 0},
           {"multiple choice", multiple, "", 0},
           {"integer", integer, "", 0},
       }) {
    CAPTURE(c.name);
    auto card = question_card(c.q, 1, "第2题，共9题", "问题正文", "s1_100_7");
    REQUIRE(card.has_value() == (std::string(c.card_type) != ""));
    if (!card) continue;
    CHECK((*card)["card_type"] == c.card_type);
    CHECK((*card)["task_id"] == "s1_100_7");
    CHECK((*card)["main_title"]["title"] == "第2题，共9题");
    CHECK((*card)["sub_title_text"] == "问题正文");
    if (std::string(c.card_type) == "button_interaction") {
      const auto& buttons = (*card)["button_list"];
      REQUIRE(buttons.size() == c.choices);
      CHECK(buttons[0]["key"] == "q:1:" + c.q.id + ":1");
      CHECK(buttons[0]["text"] == "1. 选项1");
      if (c.q.dont_know) {
        CHECK(buttons.back()["key"] == "q:1:" + c.q.id + ":dk");
        CHECK(buttons.back()["text"] == "不知道");
      }
    } else {
      const auto& box = (*card)["checkbox"];
      CHECK(box["question_key"] == "q:1:" + c.q.id);
      CHECK(box["mode"] == 0);  // single choice
      REQUIRE(box["option_list"].size() == c.choices);
      CHECK(box["option_list"][0]["id"] == "1");
      CHECK((*card)["submit_button"]["key"] == "q:1:" + c.q.id + ":submit");
    }
  }
}

TEST_CASE("app cards: keys read back, and nothing else does", "[survey_service][app]") {
  auto [key, ok, child, question, choice] = GENERATE(table<std::string, bool, std::size_t, std::string, std::string>({
      {"q:0:ever_bf:1", true, 0, "ever_bf", "1"},
      {"q:2:first_bf:12", true, 2, "first_bf", "12"},
      {"q:0:bottle:dk", true, 0, "bottle", "dk"},
      {"q:0:bottle:skip", true, 0, "bottle", "skip"},
      {"q:0:bottle:0", false, 0, "", ""},
      {"q:0:bottle:x", false, 0, "", ""},
      {"q:0:bottle:submit", false, 0, "", ""},  // a vote card's submit without a selection
      {"q:x:bottle:1", false, 0, "", ""},
      {"q:0::1", false, 0, "", ""},
      {"q:0:1", false, 0, "", ""},
      {"key111", false, 0, "", ""},
      {"", false, 0, "", ""},
  }));
  CAPTURE(key);
  auto a = parse_card_key(key);
  REQUIRE(a.has_value() == ok);
  if (ok) CHECK(*a == CardAnswer{child, question, choice});
  if (ok) CHECK(card_key(child, question, choice) == key);
}

TEST_CASE("app cards: a vote submit answers with its selected option, a button with its key", "[survey_service][app]") {
  Message vote;
  vote.kind = Message::Kind::kClick;
  vote.event_key = "q:0:q7:submit";
  vote.selected = {{"q:0:q7", "5"}};
  CHECK(click_answer(vote) == CardAnswer{0, "q7", "5"});
  Message button;
  button.event_key = "q:1:ever_bf:2";
  CHECK(click_answer(button) == CardAnswer{1, "ever_bf", "2"});
  Message foreign;
  foreign.event_key = "key111";
  foreign.selected = {{"QuestionKey1", "OptionId1"}};
  CHECK_FALSE(click_answer(foreign).has_value());
  const auto q = single("ever_bf", 3, true);
  CHECK(choice_input("2") == "2");
  CHECK(choice_input("dk") == "不知道");
  CHECK(choice_input("skip") == "跳过");
  CHECK(choice_text(q, "2") == "选项2");
  CHECK(choice_text(q, "dk") == "不知道");
  CHECK(choice_text(q, "4").empty());
  CHECK(choice_text(q, "skip").empty());
}

model::InboxRow row(std::string kind, std::string payload) {
  model::InboxRow r;
  r.id = 41;
  r.event.receiver = "app";
  r.event.kind = std::move(kind);
  r.event.created_at = 1772380800;
  r.event.payload = std::move(payload);
  return r;
}

TEST_CASE("app cards: callback rows read as text, clicks or nothing", "[survey_service][app]") {
  // The official template_card_event sample (reference §6.3).
  const auto click = read_app_row(row(
      "event:template_card_event",
      "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[FromUser]]></FromUserName>"
      "<CreateTime>123456789</CreateTime><MsgType><![CDATA[event]]></MsgType>"
      "<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[key111]]></EventKey>"
      "<TaskId><![CDATA[taskid111]]></TaskId><CardType><![CDATA[text_notice]]></CardType>"
      "<ResponseCode><![CDATA[ResponseCode]]></ResponseCode><AgentID>1</AgentID>"
      "<SelectedItems><SelectedItem><QuestionKey><![CDATA[QuestionKey1]]></QuestionKey>"
      "<OptionIds><OptionId><![CDATA[OptionId1]]></OptionId><OptionId><![CDATA[OptionId2]]></OptionId></OptionIds>"
      "</SelectedItem></SelectedItems></xml>"));
  CHECK(click.kind == Message::Kind::kClick);
  CHECK(click.id == 41);
  CHECK(click.user == "FromUser");
  CHECK(click.reply_to == "FromUser");
  CHECK(click.event_key == "key111");
  CHECK(click.task_id == "taskid111");
  CHECK(click.card_type == "text_notice");
  CHECK(click.response_code == "ResponseCode");
  CHECK(click.send_time == 1772380800);
  CHECK(click.selected == std::vector<std::pair<std::string, std::string>>{{"QuestionKey1", "OptionId1"},
                                                                            {"QuestionKey1", "OptionId2"}});
  const auto text = read_app_row(row("text",
                                     "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[Doc01]]>"
                                     "</FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                                     "<Content><![CDATA[２]]></Content><MsgId>1</MsgId><AgentID>1</AgentID></xml>"));
  CHECK(text.kind == Message::Kind::kText);
  CHECK(text.user == "Doc01");
  CHECK(text.text == "２");
  for (const auto& [kind, payload] : std::vector<std::pair<std::string, std::string>>{
           {"event:enter_agent", "<xml><FromUserName>Doc01</FromUserName><MsgType>event</MsgType></xml>"},
           {"text", "<xml><FromUserName>Doc01</Fro"},
           {"text", "<xml><MsgType>text</MsgType><Content>x</Content></xml>"},  // no sender
           {"event:kf_msg_or_event", "<xml><MsgType>event</MsgType></xml>"},
       }) {
    CAPTURE(kind, payload);
    CHECK(read_app_row(row(kind, payload)).kind == Message::Kind::kOther);
  }
}

}  // namespace
}  // namespace yuer::survey_service
