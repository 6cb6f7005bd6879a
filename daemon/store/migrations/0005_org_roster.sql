-- 0005: organisation units and the family roster. Units are keyed by the 12-digit administrative
-- division code; families by the child id the township hands in. A caregiver's phone number is
-- never stored in clear: only a keyed hash (HMAC-SHA256, key from [roster] phone_key_*) for
-- matching and a masked form (138****1234) for display. Times are unix milliseconds (UTC).

-- One administrative unit. level: 1 province, 2 city, 3 county, 4 township, 5 village.
CREATE TABLE org_unit (
  code        TEXT    PRIMARY KEY,           -- 12 digits
  name        TEXT    NOT NULL,              -- Chinese name
  level       INTEGER NOT NULL,
  parent      TEXT    NOT NULL DEFAULT '',   -- parent unit's code ('' for a province)
  created_ms  INTEGER NOT NULL,
  updated_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX org_unit_parent ON org_unit (parent);

-- One family of the baseline roster (a child 0-36 months and its caregiver).
CREATE TABLE family (
  child_id         TEXT    PRIMARY KEY,
  birth_date       TEXT    NOT NULL,             -- YYYY-MM-DD
  sex              TEXT    NOT NULL DEFAULT '',  -- '' | 男 | 女
  unit_code        TEXT    NOT NULL,             -- township or village code
  caregiver_name   TEXT    NOT NULL DEFAULT '',  -- personal data: never logged
  phone_hash       TEXT    NOT NULL,             -- hex HMAC-SHA256 of the 11-digit number
  phone_masked     TEXT    NOT NULL,             -- 138****1234
  external_userid  TEXT    NOT NULL DEFAULT '',  -- WeCom external contact id, when known
  tags             TEXT    NOT NULL DEFAULT '',  -- programme tags joined by ';'
  created_ms       INTEGER NOT NULL,
  updated_ms       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX family_unit ON family (unit_code, child_id);
CREATE INDEX family_phone ON family (phone_hash);
CREATE INDEX family_external ON family (external_userid) WHERE external_userid <> '';
