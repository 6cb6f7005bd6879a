// Uploads (webhook/upload_media, media/upload) and the media_id rules of the send endpoints.
#include "tests/sandbox/sandbox.h"
#include "tests/sandbox/test_support.h"

#include <catch2/catch.hpp>

namespace yuer::sandbox {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const char* kFixture = R"({
  "corp": {"corp_id": "wwmedia001"},
  "apps": [{"agent_id": 1000002, "secret": "s1", "token": "T", "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}],
  "members": [{"userid": "Alice"}, {"userid": "Bob"}],
  "internal_groups": [
    {"chat_id": "wrmgmt1", "owner": "Alice", "members": ["Alice", "Bob"], "robots": [{"key": "key-a"}, {"key": "key-b"}]}
  ]
})";

using testing::errcode_of;
using testing::kBoundary;
using testing::parse;

std::string form(const std::string& name, const std::string& filename, const std::string& data) {
  return testing::multipart(name, filename, data);
}

struct Env : testing::SandboxEnv {
  Env() : SandboxEnv(kFixture) {}
  ApiReply upload(const std::string& target, const std::string& body,
                  const std::string& content_type = testing::multipart_type()) {
    return sb().handle({"POST", target, body, content_type});
  }
  std::string token() { return SandboxEnv::token("s1"); }
};

std::string file_msg(const std::string& media_id) {
  return json{{"msgtype", "file"}, {"file", {{"media_id", media_id}}}}.dump();
}

TEST_CASE("sandbox parse_multipart reads names, filenames and binary data", "[sandbox][media]") {
  const std::string data("a\0b\r\nc", 6);
  auto parts = parse_multipart("multipart/form-data; boundary=\"" + kBoundary + "\"", form("media", "报告.pdf", data));
  REQUIRE(parts.has_value());
  REQUIRE(parts->size() == 1);
  CHECK((*parts)[0].name == "media");
  CHECK((*parts)[0].filename == "报告.pdf");
  CHECK((*parts)[0].data == data);
  CHECK_FALSE(parse_multipart("application/json", form("media", "a", "xxxxxx")).has_value());
  CHECK_FALSE(parse_multipart("multipart/form-data", form("media", "a", "xxxxxx")).has_value());
  CHECK_FALSE(parse_multipart("multipart/form-data; boundary=" + kBoundary, "--" + kBoundary + "\r\nbroken").has_value());
}

TEST_CASE("sandbox webhook media_id works only for the robot that uploaded it, for 3 days", "[sandbox][media][webhook]") {
  Env env;
  auto r = env.upload("/cgi-bin/webhook/upload_media?key=key-a&type=file", form("media", "喂养指南.pdf", "%PDF-1.4 ..."));
  REQUIRE(errcode_of(r) == 0);
  auto j = parse(r);
  CHECK(j["type"] == "file");
  CHECK(j["created_at"] == "1700000000");  // a string, as in the documented example
  const std::string id = j["media_id"].get<std::string>();
  CHECK(id.size() >= 32);

  CHECK(errcode_of(env.post("/cgi-bin/webhook/send?key=key-a", file_msg(id))) == 0);
  CHECK(errcode_of(env.post("/cgi-bin/webhook/send?key=key-b", file_msg(id))) == 40007);
  CHECK(errcode_of(env.post("/cgi-bin/webhook/send?key=key-a", file_msg("made-up"))) == 40007);
  auto sent = env.sb().deliveries();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].msgtype == "file");
  CHECK(sent[0].message["media_id"] == id);

  env.sb().clock().advance(72h - 1s);
  CHECK(errcode_of(env.post("/cgi-bin/webhook/send?key=key-a", file_msg(id))) == 0);
  env.sb().clock().advance(1s);
  CHECK(errcode_of(env.post("/cgi-bin/webhook/send?key=key-a", file_msg(id))) == 40007);
}

TEST_CASE("sandbox upload errors use WeCom's global codes", "[sandbox][media]") {
  Env env;
  const std::string mp = "multipart/form-data; boundary=" + kBoundary;
  struct Case {
    const char* name;
    std::string target;
    std::string body;
    std::string content_type;
    int errcode;
  };
  const std::string amr = "#!AMR\n" + std::string(100, 'x');
  const std::string png = "\x89PNG\r\n\x1a\n" + std::string(100, 'x');
  for (const auto& c : std::vector<Case>{
           {"unknown key", "/cgi-bin/webhook/upload_media?key=nope&type=file", form("media", "a", "123456"), mp, 93000},
           {"robots cannot upload images", "/cgi-bin/webhook/upload_media?key=key-a&type=image", form("media", "a.png", png), mp, 40005},
           {"no type", "/cgi-bin/webhook/upload_media?key=key-a", form("media", "a", "123456"), mp, 40005},
           {"five bytes is too small", "/cgi-bin/webhook/upload_media?key=key-a&type=file", form("media", "a", "12345"), mp, 40006},
           {"voice must be AMR", "/cgi-bin/webhook/upload_media?key=key-a&type=voice", form("media", "a.mp3", "ID3" + std::string(100, 'x')), mp, 40004},
           {"voice AMR ok", "/cgi-bin/webhook/upload_media?key=key-a&type=voice", form("media", "a.amr", amr), mp, 0},
           {"voice over 2 MB", "/cgi-bin/webhook/upload_media?key=key-a&type=voice", form("media", "a.amr", amr + std::string(2 * 1024 * 1024, 'x')), mp, 40006},
           {"file over 20 MB", "/cgi-bin/webhook/upload_media?key=key-a&type=file", form("media", "a", std::string(20 * 1024 * 1024 + 1, 'x')), mp, 40006},
           {"part not named media", "/cgi-bin/webhook/upload_media?key=key-a&type=file", form("file", "a", "123456"), mp, 41005},
           {"not multipart", "/cgi-bin/webhook/upload_media?key=key-a&type=file", "123456", "application/octet-stream", 41005},
           {"empty part", "/cgi-bin/webhook/upload_media?key=key-a&type=file", form("media", "a", ""), mp, 44001},
       }) {
    CAPTURE(c.name);
    CHECK(errcode_of(env.upload(c.target, c.body, c.content_type)) == c.errcode);
  }
  CHECK(errcode_of(env.sb().handle({"GET", "/cgi-bin/webhook/upload_media?key=key-a&type=file", ""})) == 43002);
  // The record keeps the size, not the bytes.
  auto recs = env.sb().requests();
  CHECK(recs[5].body.rfind("<multipart ", 0) == 0);
}

TEST_CASE("sandbox media/upload serves every app of the corp, with per-type checks", "[sandbox][media][message]") {
  Env env;
  const std::string token = env.token();
  const std::string png = "\x89PNG\r\n\x1a\n" + std::string(100, 'x');
  auto r = env.upload("/cgi-bin/media/upload?access_token=" + token + "&type=image", form("media", "a.png", png));
  REQUIRE(errcode_of(r) == 0);
  const std::string id = parse(r)["media_id"].get<std::string>();
  auto image_msg = [&](const std::string& media_id) {
    return json{{"touser", "Bob"}, {"agentid", 1000002}, {"msgtype", "image"}, {"image", {{"media_id", media_id}}}}.dump();
  };
  CHECK(errcode_of(env.post("/cgi-bin/message/send?access_token=" + token, image_msg(id))) == 0);
  CHECK(errcode_of(env.post("/cgi-bin/message/send?access_token=" + token, image_msg("made-up"))) == 40007);
  // App media is not a robot's: a robot cannot post it.
  CHECK(errcode_of(env.post("/cgi-bin/webhook/send?key=key-a", file_msg(id))) != 0);

  struct Case {
    const char* type;
    std::string data;
    int errcode;
  };
  for (const auto& c : std::vector<Case>{{"image", "GIF89a" + std::string(100, 'x'), 40004},
                                         {"image", png + std::string(10 * 1024 * 1024, 'x'), 40009},
                                         {"video", std::string("\0\0\0\x18" "ftypmp42", 12) + std::string(100, 'x'), 0},
                                         {"video", "RIFF" + std::string(100, 'x'), 40004},
                                         {"thumb", png, 40005}}) {
    CAPTURE(c.type, c.errcode);
    CHECK(errcode_of(env.upload("/cgi-bin/media/upload?access_token=" + token + "&type=" + c.type,
                                form("media", "x", c.data))) == c.errcode);
  }
  CHECK(errcode_of(env.upload("/cgi-bin/media/upload?type=image", form("media", "a.png", png))) == 41001);
}

}  // namespace
}  // namespace yuer::sandbox
