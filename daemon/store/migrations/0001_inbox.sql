-- 0001: the inbox. One row per distinct WeCom callback (receiver, dedupe_key); a retry of the same
-- callback only raises `deliveries`. `payload` is the decrypted plaintext exactly as received.
CREATE TABLE inbox (
  id          INTEGER PRIMARY KEY,
  receiver    TEXT    NOT NULL,
  channel     TEXT    NOT NULL,
  kind        TEXT    NOT NULL,
  dedupe_key  TEXT    NOT NULL,
  from_user   TEXT    NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL DEFAULT 0,
  received_at INTEGER NOT NULL,
  payload     TEXT    NOT NULL,
  deliveries  INTEGER NOT NULL DEFAULT 1,
  UNIQUE (receiver, dedupe_key)
);

-- Admin listing by kind (optionally per receiver), in id order: every index ends with the rowid.
-- Listing by receiver alone uses the UNIQUE index's receiver prefix.
CREATE INDEX inbox_by_kind ON inbox (kind, receiver);
