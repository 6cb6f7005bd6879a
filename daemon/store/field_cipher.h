// FieldCipher: encryption at rest of the personal fields the store keeps (names, birth dates,
// conversation states, answers, inbox payloads; docs/privacy.md). AES-256-GCM through OpenSSL EVP,
// a fresh random 96-bit nonce per value, the column's name as associated data (a value cannot be
// moved to another column unnoticed). Stored form, in the same TEXT column as the plain text was:
//
//   yenc1:<key id>:<base64 of nonce(12) || ciphertext || tag(16)>
//
// The key id names one of the keys of the key file, so the key can be rotated: the first key of
// the file seals new values, every key of the file opens old ones, and open_sqlite_store()
// re-seals values under an older key (and plain values) with the first key at start. An empty
// value stays empty (nothing to hide, and retention blanks are recognisable).
// Thread-safe: immutable after create().
#pragma once

#include "daemon/base/result.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::store {

inline constexpr std::string_view kSealedPrefix = "yenc1:";

struct FieldKey {
  std::string id;   // 1 to 16 of A-Z a-z 0-9 _ -
  std::string key;  // 32 bytes
};

class FieldCipher {
 public:
  // `keys`: the first one seals; all open. Fails with Error{"privacy.bad_key", …} (never quoting a key).
  static Result<std::shared_ptr<const FieldCipher>> create(std::vector<FieldKey> keys);
  // The key file: one "<id> <64 hex digits>" per line (first = current); blank lines and lines
  // starting with # are skipped. E.g. `printf 'k1 %s\n' "$(openssl rand -hex 32)"`.
  static Result<std::shared_ptr<const FieldCipher>> parse(std::string_view text);

  const std::string& current_id() const { return keys_.front().id; }
  // "yenc1:<current id>:": a stored value starting with this needs no re-sealing.
  std::string current_prefix() const { return std::string(kSealedPrefix) + current_id() + ":"; }
  bool has_key(std::string_view id) const { return find(id) != nullptr; }
  std::vector<std::string> key_ids() const;

  // Seals `plain` under the current key; '' stays ''. `column` is e.g. "family.birth_date".
  std::string seal(std::string_view plain, std::string_view column) const;
  // The plain text of a stored value: a sealed one is opened, anything else is returned as it is
  // (a plain row not yet migrated). Throws StoreError{"store.key"} when the value's key is not in
  // the key file, StoreError{"store.corrupt"} when it does not authenticate (changed bytes, or a
  // different key under the same id). Messages name the column and key id, never the value.
  std::string open(std::string_view stored, std::string_view column) const;
  // A keyed hash (HMAC-SHA256 under a key derived from the current key, hex, 32 chars) for
  // equality lookups on a sealed value; changes when the current key changes.
  std::string index(std::string_view domain, std::string_view value) const;

 private:
  explicit FieldCipher(std::vector<FieldKey> keys) : keys_(std::move(keys)) {}
  const FieldKey* find(std::string_view id) const;
  std::vector<FieldKey> keys_;
};

// True when `stored` has the sealed form's prefix (whatever its key).
inline bool is_sealed(std::string_view stored) { return stored.starts_with(kSealedPrefix); }
// The key id of a sealed value, or nullopt for anything else.
std::optional<std::string> sealed_key_id(std::string_view stored);

// The cipher a store part was opened with, or none: seal/open that pass values through unchanged
// without a cipher (and refuse a sealed value then: StoreError{"store.key"}).
std::string seal_field(const FieldCipher* cipher, std::string_view plain, std::string_view column);
std::string open_field(const FieldCipher* cipher, std::string_view stored, std::string_view column);

}  // namespace yuer::store
