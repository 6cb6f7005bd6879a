#include "tests/sandbox/media.h"

namespace yuer::sandbox {
namespace {

using nlohmann::json;

constexpr std::size_t kMiB = 1024 * 1024;

bool is_amr(const std::string& d) { return d.rfind("#!AMR\n", 0) == 0; }
bool is_png(const std::string& d) { return d.rfind("\x89PNG", 0) == 0; }
bool is_jpg(const std::string& d) {
  return d.size() >= 3 && static_cast<unsigned char>(d[0]) == 0xFF && static_cast<unsigned char>(d[1]) == 0xD8 &&
         static_cast<unsigned char>(d[2]) == 0xFF;
}
bool is_mp4(const std::string& d) { return d.size() >= 8 && d.compare(4, 4, "ftyp") == 0; }

// Checks one upload against the limits of its type. Returns the errcode, 0 when acceptable.
// Global codes (DOC 90313): 40004 invalid media file type, 40006 invalid file size, 40009 image
// size, 40011 video size; "every file must be > 5 bytes" (§3.3, §5.3).
int check_upload(const std::string& type, const std::string& data) {
  if (data.size() <= 5) return 40006;
  if (type == "file") return data.size() > 20 * kMiB ? 40006 : 0;
  if (type == "voice") {
    if (data.size() > 2 * kMiB) return 40006;
    return is_amr(data) ? 0 : 40004;  // AMR only; the 60 s limit needs decoding, not checked
  }
  if (type == "image") {
    if (data.size() > 10 * kMiB) return 40009;  // 10 MB on the 2025 page (older text: 2 MB), §5.3
    return is_png(data) || is_jpg(data) ? 0 : 40004;
  }
  if (type == "video") {
    if (data.size() > 10 * kMiB) return 40011;
    return is_mp4(data) ? 0 : 40004;
  }
  return 40005;
}

class MediaModule final : public Module {
 public:
  explicit MediaModule(Context& ctx) : ctx_(ctx) {}

  std::optional<ApiReply> api(const ApiRequest& req, const Target& t, RequestRecord& rec) override {
    if (t.path != "/cgi-bin/webhook/upload_media" && t.path != "/cgi-bin/media/upload") return std::nullopt;
    if (req.method != "POST") return ctx_.error(43002);
    const bool webhook = t.path == "/cgi-bin/webhook/upload_media";
    std::string scope = "corp";
    if (webhook) {
      auto key = t.param("key");
      if (!key || !robot_exists(*key)) return ctx_.error(93000);
      scope = "webhook:" + *key;
    } else {
      auto checked = ctx_.check_token(t);
      if (auto* r = std::get_if<ApiReply>(&checked)) return *r;
    }
    std::string type = t.param("type").value_or("");
    const bool type_ok = webhook ? (type == "file" || type == "voice")
                                 : (type == "file" || type == "voice" || type == "image" || type == "video");
    if (!type_ok) return ctx_.error(40005, "invalid file type");
    auto parts = parse_multipart(req.content_type, req.body);
    if (!parts) return ctx_.error(41005, "media data missing");
    const FormPart* media = nullptr;
    for (const auto& p : *parts)
      if (p.name == "media") media = &p;
    if (!media) return ctx_.error(41005, "media data missing");
    if (media->data.empty()) return ctx_.error(44001, "empty media data");
    if (int code = check_upload(type, media->data)) return ctx_.error(code);

    Media m;
    m.media_id = (webhook ? "3" : "1") + random_alnum(63);  // opaque; real ids are ~64 chars
    m.type = type;
    m.filename = media->filename.empty() ? "file" : media->filename;
    m.size = media->data.size();
    m.scope = scope;
    m.created_at_s = ctx_.now_s();
    rec.body = "<multipart " + std::to_string(req.body.size()) + " bytes>";  // keep records small
    rec.detail = {{"media_id", m.media_id}, {"type", type}, {"filename", m.filename}, {"size", m.size}};
    json extra = {{"type", type}, {"media_id", m.media_id}, {"created_at", std::to_string(m.created_at_s)}};
    ctx_.media[m.media_id] = std::move(m);
    // created_at is a string in both pages' examples (§3.3); media/upload answers errmsg "" there,
    // "ok" elsewhere: we answer "ok" like every other success.
    return wecom_ok(extra);
  }

  nlohmann::json state() const override {
    json out = json::array();
    for (const auto& [id, m] : ctx_.media)
      out.push_back({{"media_id", id}, {"type", m.type}, {"filename", m.filename}, {"size", m.size},
                     {"scope", m.scope.rfind("webhook:", 0) == 0 ? "webhook" : "corp"},
                     {"created_at", m.created_at_s}});
    return {{"media", out}};
  }

 private:
  bool robot_exists(const std::string& key) const {
    for (const auto& g : ctx_.fixture.internal_groups)
      for (const auto& r : g.robots)
        if (r.key == key) return true;
    return false;
  }

  Context& ctx_;
};

}  // namespace

std::unique_ptr<Module> make_media_module(Context& ctx) { return std::make_unique<MediaModule>(ctx); }

}  // namespace yuer::sandbox
