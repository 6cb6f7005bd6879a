-- 0008: what the survey service adds to 0007: a round's name and the units it was opened for,
-- the 微信客服 link of each township of a round (its scene names round and township), which
-- round a parent's chat belongs to, and the inbox cursor of the survey's kf consumer (moved in
-- the same transaction as the conversation state, so a restart neither loses nor repeats a turn).

ALTER TABLE survey_round ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE survey_round ADD COLUMN units TEXT NOT NULL DEFAULT '';  -- ';'-joined codes as opened

CREATE TABLE survey_kf_link (
  round_id   INTEGER NOT NULL REFERENCES survey_round (id),
  unit_code  TEXT    NOT NULL,  -- a township
  open_kfid  TEXT    NOT NULL,
  scene      TEXT    NOT NULL,  -- 's<round>_<township code>'
  url        TEXT    NOT NULL,
  PRIMARY KEY (round_id, unit_code)
) WITHOUT ROWID;
CREATE UNIQUE INDEX survey_kf_link_scene ON survey_kf_link (scene);

-- The round a parent's chat answers (from the link's scene, else the first round that took it).
CREATE TABLE survey_binding (
  channel     TEXT    NOT NULL,
  user_id     TEXT    NOT NULL,
  round_id    INTEGER NOT NULL REFERENCES survey_round (id),
  unit_code   TEXT    NOT NULL DEFAULT '',  -- township of the link ('' when none)
  updated_ms  INTEGER NOT NULL,
  PRIMARY KEY (channel, user_id)
) WITHOUT ROWID;

CREATE TABLE survey_cursor (
  name      TEXT    PRIMARY KEY,  -- 'kf'
  inbox_id  INTEGER NOT NULL      -- the last inbox row handled
) WITHOUT ROWID;
