// FieldCipher: round trips, the stored form, tampering, wrong and missing keys, the key file.
#include "daemon/store/field_cipher.h"

#include "daemon/store/store.h"

#include <catch2/catch.hpp>

#include <set>

namespace yuer::store {
namespace {

const std::string kHex1 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kHex2 = "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff";

std::shared_ptr<const FieldCipher> cipher(const std::string& text) {
  auto c = FieldCipher::parse(text);
  REQUIRE(c.has_value());
  return *c;
}

TEST_CASE("field cipher: values round-trip and never show in the stored form", "[store][privacy]") {
  auto c = cipher("k1 " + kHex1 + "\n");
  const std::string values[] = {"王秀英", "2025-03-08", "x", std::string(5000, 'a'), "{\"q1\":\"yes\"}", std::string("a\0b", 3)};
  for (const auto& v : values) {
    CAPTURE(v.size());
    const auto sealed = c->seal(v, "family.caregiver_name");
    CHECK(sealed.starts_with("yenc1:k1:"));
    if (v.size() >= 4) CHECK(sealed.find(v) == std::string::npos);  // a 1-byte text can occur in base64 by chance
    CHECK(sealed_key_id(sealed) == std::optional<std::string>("k1"));
    CHECK(c->open(sealed, "family.caregiver_name") == v);
  }
  // A fresh nonce per value: the same text seals differently every time.
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) seen.insert(c->seal("2025-03-08", "family.birth_date"));
  CHECK(seen.size() == 50);
  CHECK(c->seal("", "family.caregiver_name").empty());
  CHECK(c->open("", "family.caregiver_name").empty());
  CHECK(c->open("plain, not yet sealed", "family.caregiver_name") == "plain, not yet sealed");
}

TEST_CASE("field cipher: a changed byte, another column, a wrong or missing key are clear errors", "[store][privacy]") {
  auto c = cipher("k1 " + kHex1 + "\n");
  const auto sealed = c->seal("2025-03-08", "family.birth_date");
  auto code_of = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const StoreError& e) {
      CHECK(std::string(e.what()).find("2025-03-08") == std::string::npos);
      return e.code();
    }
    return "no error";
  };
  // Every position of the payload: flipped bits never give garbage.
  const std::size_t body = std::string("yenc1:k1:").size();
  int refused = 0;
  for (std::size_t i = body; i < sealed.size(); ++i) {
    std::string t = sealed;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    if (t == sealed) continue;
    const auto code = code_of([&] { (void)c->open(t, "family.birth_date"); });
    CHECK(code == "store.corrupt");
    refused += code == "store.corrupt";
  }
  CHECK(refused > 20);
  CHECK(code_of([&] { (void)c->open(sealed.substr(0, sealed.size() - 4), "family.birth_date"); }) == "store.corrupt");
  CHECK(code_of([&] { (void)c->open(sealed, "survey_eligible.birth_date"); }) == "store.corrupt");
  auto wrong = cipher("k1 " + kHex2 + "\n");
  CHECK(code_of([&] { (void)wrong->open(sealed, "family.birth_date"); }) == "store.corrupt");
  auto other = cipher("k2 " + kHex2 + "\n");
  CHECK(code_of([&] { (void)other->open(sealed, "family.birth_date"); }) == "store.key");
  CHECK(code_of([&] { (void)open_field(nullptr, sealed, "family.birth_date"); }) == "store.key");
  CHECK(open_field(nullptr, "2025-03-08", "family.birth_date") == "2025-03-08");
}

TEST_CASE("field cipher: rotation keeps old values readable", "[store][privacy]") {
  auto old_ring = cipher("k1 " + kHex1 + "\n");
  auto new_ring = cipher("# rotated\nk2 " + kHex2 + "\n\nk1 " + kHex1 + "\n");
  CHECK(new_ring->current_id() == "k2");
  CHECK(new_ring->current_prefix() == "yenc1:k2:");
  CHECK(new_ring->key_ids() == std::vector<std::string>{"k2", "k1"});
  const auto by_old = old_ring->seal("李建国", "family.caregiver_name");
  CHECK(new_ring->open(by_old, "family.caregiver_name") == "李建国");
  CHECK(new_ring->seal("李建国", "family.caregiver_name").starts_with("yenc1:k2:"));
  // The keyed index follows the current key, and is stable under it.
  CHECK(old_ring->index("d", "2025-03-08") == old_ring->index("d", "2025-03-08"));
  CHECK(old_ring->index("d", "2025-03-08") != new_ring->index("d", "2025-03-08"));
  CHECK(old_ring->index("d", "2025-03-08") != old_ring->index("d", "2025-03-09"));
  CHECK(old_ring->index("d", "2025-03-08").size() == 32);
}

TEST_CASE("field cipher: the key file is checked line by line, never quoting a key", "[store][privacy]") {
  struct Case {
    const char* label;
    std::string text;
    bool ok;
  };
  const Case cases[] = {
      {"one key", "k1 " + kHex1, true},
      {"two keys, comments, CRLF", "# keys\r\nk2 " + kHex2 + "\r\nk1\t" + kHex1 + "\r\n", true},
      {"upper-case hex", "k1 " + std::string("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"), true},
      {"empty", "", false},
      {"only comments", "# nothing\n\n", false},
      {"no id", kHex1, false},
      {"short key", "k1 " + kHex1.substr(2), false},
      {"not hex", "k1 " + kHex1.substr(0, 62) + "zz", false},
      {"bad id", "k/1 " + kHex1, false},
      {"long id", "abcdefghijklmnopq " + kHex1, false},
      {"duplicate id", "k1 " + kHex1 + "\nk1 " + kHex2, false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto r = FieldCipher::parse(c.text);
    CHECK(r.has_value() == c.ok);
    if (!r) {
      CHECK(r.error().code == "privacy.bad_key");
      CHECK(r.error().message.find(kHex1.substr(0, 16)) == std::string::npos);
      CHECK(r.error().message.find(kHex2.substr(0, 16)) == std::string::npos);
    }
  }
}

}  // namespace
}  // namespace yuer::store
