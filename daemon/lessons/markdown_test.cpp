#include "daemon/lessons/markdown.h"

#include <catch2/catch.hpp>

namespace yuer::lessons {
namespace {

TEST_CASE("markdown: text WeCom shows correctly has no problems", "[lessons][markdown]") {
  auto text = GENERATE(as<std::string>{},
                       "# 标题\n正文",
                       "###### 六级标题",
                       "**加粗** 和 **再加粗**",
                       "看 [国家卫健委](https://www.nhc.gov.cn/) 的说明",
                       "<font color=\"warning\">注意</font>：别喂蜂蜜",
                       "> 引用一句",
                       "1. 第一\n2. 第二",
                       "#号开头的话题不是标题？",  // not a heading: no space is reported below
                       "提醒 <@zhangsan> 确认");
  CAPTURE(text);
  auto problems = markdown_problems(text);
  if (text.rfind("#号", 0) == 0)
    CHECK(problems.size() == 1);
  else
    CHECK(problems.empty());
}

TEST_CASE("markdown: each kind of breakage is found", "[lessons][markdown]") {
  auto [text, needle] = GENERATE(table<std::string, std::string>({
      {"", "内容为空"},
      {" \n\n", "内容为空"},
      {"####### 七级", "标题级别超过"},
      {"#", "# 后面要有空格"},
      {"**加粗没关", "** 加粗符号没有成对"},
      {"第一行\n**a** **b", "第2行"},
      {"[没有网址]", "链接应写成"},
      {"[文字](https://a.cn", "链接没有结束"},
      {"[文字](www.a.cn)", "网址不是 http(s) 开头"},
      {"[](https://a.cn)", "链接没有结束"},
      {"<font color=\"red\">红</font>", "颜色只能是"},
      {"<font color=\"info\">没关", "<font> 没有用 </font> 结束"},
      {"关</font>", "多余的 </font>"},
      {"<b>粗</b>", "不支持这个 HTML 标签"},
      {"<br>", "不支持这个 HTML 标签"},
  }));
  CAPTURE(text);
  auto problems = markdown_problems(text);
  REQUIRE_FALSE(problems.empty());
  CHECK(problems.front().find(needle) != std::string::npos);
}

TEST_CASE("markdown: plain text for text-only routes", "[lessons][markdown]") {
  auto [md, plain] = GENERATE(table<std::string, std::string>({
      {"# 标题\n**重点**：母乳", "标题\n重点：母乳"},
      {"> 引用\n>紧贴", "引用\n紧贴"},
      {"<font color=\"warning\">注意</font>", "注意"},
      {"看[说明](https://a.cn/x)。", "看说明（https://a.cn/x）。"},
      {"[不是链接", "[不是链接"},
      {"1 < 2，#3", "1 < 2，#3"},
  }));
  CAPTURE(md);
  CHECK(to_plain_text(md) == plain);
}

}  // namespace
}  // namespace yuer::lessons
