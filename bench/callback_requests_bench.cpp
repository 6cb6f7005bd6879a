// callback_requests_bench: writes N unique, signed, encrypted WeCom app callbacks (text messages
// with Chinese content) for a load generator to replay once each: one request per line,
// "<target>\t<body>\n", where target = path?msg_signature=..&timestamp=..&nonce=.. .
// Every line has its own MsgId and nonce; all carry the current time, so generate right before a
// run (yuerd refuses timestamps more than callback.replay_window_s away from now).
// https://developer.work.weixin.qq.com/document/path/91144 (crypto), .../90239 (text message)
#include "adapters/wecom/crypto.h"

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using yuer::adapters::wecom::MsgCrypt;

struct Options {
  std::uint64_t count = 100000;
  std::string token;
  std::string aes_key;
  std::string corp_id;
  std::string out;
  std::string path = "/wecom/callback/app";
  std::string agent_id = "1000002";
  std::uint64_t first_msgid = 0;  // 0: random
  std::uint64_t seed = 0;         // 0: random
  std::int64_t timestamp = 0;     // 0: now
};

constexpr const char* kUsage =
    "usage: callback_requests_bench --count N --token T --aes-key K43 --corp-id ID --out FILE\n"
    "       [--path /wecom/callback/app] [--agent-id 1000002] [--first-msgid N] [--seed N]\n"
    "       [--timestamp UNIX_SECONDS]\n"
    "Writes N lines \"<target>\\t<body>\" of unique signed XML callbacks (text messages).\n";

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "callback_requests_bench: %s\n%s", why.c_str(), kUsage);
  std::exit(2);
}

std::uint64_t parse_u64(const std::string& name, const char* text) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') usage_error(name + " wants a non-negative integer");
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error("missing value after " + a);
    const char* v = argv[++i];
    if (a == "--count") o.count = parse_u64(a, v);
    else if (a == "--token") o.token = v;
    else if (a == "--aes-key") o.aes_key = v;
    else if (a == "--corp-id") o.corp_id = v;
    else if (a == "--out") o.out = v;
    else if (a == "--path") o.path = v;
    else if (a == "--agent-id") o.agent_id = v;
    else if (a == "--first-msgid") o.first_msgid = parse_u64(a, v);
    else if (a == "--seed") o.seed = parse_u64(a, v);
    else if (a == "--timestamp") o.timestamp = static_cast<std::int64_t>(parse_u64(a, v));
    else usage_error("unknown option " + a);
  }
  if (o.token.empty() || o.aes_key.empty() || o.corp_id.empty() || o.out.empty())
    usage_error("--token, --aes-key, --corp-id and --out are required");
  if (o.count == 0) usage_error("--count must be at least 1");
  return o;
}

// Sentences a parent or teacher might send to the county's app; joined at random lengths so that
// bodies spread over roughly 0.5 to 1.5 KB.
constexpr std::string_view kSentences[] = {
    "老师您好，孩子今天发烧了，想请假一天。",
    "请问下周三的家长会几点开始？在哪个教室？",
    "收到，谢谢老师的提醒，我们会按时参加。",
    "孩子说数学作业第三题不太会做，能否再讲一下？",
    "本周的安全教育课内容已经和孩子一起看完了。",
    "我们家住得比较远，放学能不能晚十分钟来接？",
    "问卷第二题选B，第五题选A，其他都同意。",
    "防溺水的注意事项已经签字，明天让孩子带回学校。",
    "今天的营养午餐孩子很喜欢，辛苦食堂的师傅们了。",
    "请问校服尺码登记截止到哪一天？",
    "孩子的眼镜落在教室里了，麻烦老师帮忙收一下。",
    "周末的研学活动我们报名参加，费用怎么交？",
    "谢谢老师这学期的耐心教导，孩子进步很大。",
    "天气转凉，提醒孩子多穿衣服，注意身体。",
};

constexpr std::string_view kUsers[] = {"zhangwei", "wangfang", "lina", "liuyang", "chenjing",
                                       "yangli", "huangqiang", "zhaomin", "wutao", "zhouxia"};

std::string text_message(const Options& o, std::mt19937_64& rng, std::uint64_t msgid, std::int64_t ts) {
  constexpr std::size_t kSentenceCount = std::size(kSentences);
  std::size_t sentences = 1 + rng() % 10;
  std::string content;
  for (std::size_t s = 0; s < sentences; ++s) content += kSentences[rng() % kSentenceCount];
  std::string from = std::string(kUsers[rng() % std::size(kUsers)]) + std::to_string(rng() % 10000);
  std::string x;
  x.reserve(320 + content.size());
  x += "<xml><ToUserName><![CDATA[";
  x += o.corp_id;
  x += "]]></ToUserName><FromUserName><![CDATA[";
  x += from;
  x += "]]></FromUserName><CreateTime>";
  x += std::to_string(ts);
  x += "</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[";
  x += content;
  x += "]]></Content><MsgId>";
  x += std::to_string(msgid);
  x += "</MsgId><AgentID>";
  x += o.agent_id;
  x += "</AgentID></xml>";
  return x;
}

}  // namespace

int main(int argc, char** argv) try {
  Options o = parse_options(argc, argv);
  auto crypt_result = MsgCrypt::create(o.token, o.aes_key, o.corp_id);
  if (!crypt_result) usage_error(crypt_result.error().code + ": " + crypt_result.error().message);
  const MsgCrypt& crypt = *crypt_result;

  std::random_device rd;
  std::uint64_t seed = o.seed != 0 ? o.seed : (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  std::mt19937_64 rng(seed);
  // Real MsgIds are 64-bit integers around 7e18; a random 7e18-based start keeps separate files
  // (warm-up, runs) apart unless a caller pins --first-msgid.
  std::uint64_t first_msgid = o.first_msgid != 0 ? o.first_msgid : 7000000000000000000ULL + rng() % 1000000000000000000ULL;
  std::int64_t ts = o.timestamp != 0
                        ? o.timestamp
                        : std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
  std::string ts_text = std::to_string(ts);
  std::uint32_t nonce_prefix = static_cast<std::uint32_t>(rng() % 1000000);

  std::FILE* f = std::fopen(o.out.c_str(), "wb");
  if (f == nullptr) {
    std::fprintf(stderr, "callback_requests_bench: cannot open %s: %s\n", o.out.c_str(), std::strerror(errno));
    return 1;
  }
  static std::vector<char> buffer(1 << 20);
  std::setvbuf(f, buffer.data(), _IOFBF, buffer.size());

  auto started = std::chrono::steady_clock::now();
  std::uint64_t total = 0, min_body = UINT64_MAX, max_body = 0;
  std::string line;
  for (std::uint64_t i = 0; i < o.count; ++i) {
    std::uint64_t msgid = first_msgid + i;
    std::string msg = text_message(o, rng, msgid, ts);
    std::string enc = crypt.encrypt(msg);
    // Unique by construction: a per-file prefix, then the index.
    char nonce[32];
    std::snprintf(nonce, sizeof nonce, "%06" PRIu32 "%010" PRIu64, nonce_prefix, i);
    std::string sig = crypt.signature(ts_text, nonce, enc);
    line.clear();
    line += o.path;
    line += "?msg_signature=";
    line += sig;
    line += "&timestamp=";
    line += ts_text;
    line += "&nonce=";
    line += nonce;
    line += '\t';
    std::size_t body_start = line.size();
    line += "<xml><ToUserName><![CDATA[";
    line += o.corp_id;
    line += "]]></ToUserName><Encrypt><![CDATA[";
    line += enc;
    line += "]]></Encrypt><AgentID><![CDATA[";
    line += o.agent_id;
    line += "]]></AgentID></xml>";
    std::uint64_t body = line.size() - body_start;
    total += body;
    min_body = std::min(min_body, body);
    max_body = std::max(max_body, body);
    line += '\n';
    if (std::fwrite(line.data(), 1, line.size(), f) != line.size()) {
      std::fprintf(stderr, "callback_requests_bench: write to %s failed: %s\n", o.out.c_str(), std::strerror(errno));
      return 1;
    }
  }
  if (std::fclose(f) != 0) {
    std::fprintf(stderr, "callback_requests_bench: closing %s failed: %s\n", o.out.c_str(), std::strerror(errno));
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr,
               "callback_requests_bench: %" PRIu64 " requests -> %s in %.2f s; body bytes min %" PRIu64
               " avg %" PRIu64 " max %" PRIu64 "; timestamp %s; MsgId %" PRIu64 "..%" PRIu64 "\n",
               o.count, o.out.c_str(), secs, min_body, total / o.count, max_body, ts_text.c_str(), first_msgid,
               first_msgid + o.count - 1);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "callback_requests_bench: %s\n", e.what());
  return 1;
}
