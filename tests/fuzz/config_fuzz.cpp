// yuerd.toml: TOML syntax, every section's keys, types and values, and the secret indirections
// (_file, _env, _credential). The text is written to a file beside owner-only secret files, an
// environment variable and a credentials folder; loading must never fail by crashing, and no error
// message may contain a secret's value.
#include "daemon/yuerd/config.h"
#include "tests/fuzz/fuzz_targets.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace yuer::fuzz {
namespace {

namespace fs = std::filesystem;

// Secret values, each placed in a file, the environment seam and a credential.
const std::vector<std::string>& secrets() {
  static const std::vector<std::string> s = {
      "FuzzFileToken7QzX",                            // secrets/token (file)
      "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",  // secrets/aes_key (file)
      "EnvSecretValue9KpW",                           // YUER_FUZZ_SECRET (environment)
      "CredentialSecret4MnB",                         // $CREDENTIALS_DIRECTORY/admin
      "fuzz-phone-key-secret-0123456789",             // secrets/phone_key
  };
  return s;
}

void write(const fs::path& p, const std::string& content, fs::perms mode) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
  fs::permissions(p, mode);
}

struct Workspace {
  fs::path dir;
  Workspace() {
    std::string tmpl = (fs::temp_directory_path() / "yuer-fuzz-config-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    dir = tmpl;
    const auto owner = fs::perms::owner_read | fs::perms::owner_write;
    write(dir / "secrets/token", secrets()[0] + "\n", owner);
    write(dir / "secrets/aes_key", secrets()[1], owner);
    write(dir / "creds/admin", secrets()[3], owner);
    write(dir / "secrets/phone_key", secrets()[4], owner);
    write(dir / "secrets/loose", "LooseSecret", owner | fs::perms::group_read | fs::perms::others_read);
  }
  ~Workspace() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

const Workspace& workspace() {
  static const Workspace w;
  return w;
}

}  // namespace

int config(const std::uint8_t* data, std::size_t size) {
  const auto& w = workspace();
  std::string text(reinterpret_cast<const char*>(data), size);
  const fs::path file = w.dir / "yuerd.toml";
  std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
  const std::string creds = (w.dir / "creds").string();
  yuerd::EnvLookup env = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "YUER_FUZZ_SECRET") return secrets()[2];
    if (name == "CREDENTIALS_DIRECTORY") return creds;
    return std::nullopt;
  };
  auto r = yuerd::load_config(file.string(), env);
  if (!r) {
    require(!r.error().message.empty(), "config error without a message");
    for (const auto& s : secrets())
      if (text.find(s) == std::string::npos)
        require(r.error().message.find(s) == std::string::npos, "a secret's value in a config error message");
    // (An input that contains a value itself may see it quoted back: only values it cannot know count.)
    if (text.find("LooseSecret") == std::string::npos)
      require(r.error().message.find("LooseSecret") == std::string::npos, "a loose file's content in an error message");
  }
  return 0;
}

}  // namespace yuer::fuzz
