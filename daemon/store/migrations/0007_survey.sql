-- 0007: survey rounds, the eligible-roster snapshot of each round (the coverage denominator),
-- conversation state per (channel, user, round), and responses: one per child per round (or per
-- unmatched respondent), where a later confirmation replaces the answers and the replaced version
-- goes to survey_response_history. Times are unix milliseconds (UTC); dates are YYYY-MM-DD.

CREATE TABLE survey_round (
  id              INTEGER PRIMARY KEY,
  survey_id       TEXT    NOT NULL,             -- templates/surveys/<id>.toml
  survey_version  INTEGER NOT NULL,
  unit_code       TEXT    NOT NULL,             -- the unit the round covers (and all units below it)
  opens_on        TEXT    NOT NULL,
  closes_on       TEXT    NOT NULL,
  state           TEXT    NOT NULL DEFAULT 'open',  -- open | closed
  created_ms      INTEGER NOT NULL,
  closed_ms       INTEGER NOT NULL DEFAULT 0
);

-- Who was eligible when the round opened; later roster edits do not move the denominator.
CREATE TABLE survey_eligible (
  round_id    INTEGER NOT NULL REFERENCES survey_round (id),
  child_id    TEXT    NOT NULL,
  unit_code   TEXT    NOT NULL,
  birth_date  TEXT    NOT NULL,
  PRIMARY KEY (round_id, child_id)
) WITHOUT ROWID;
CREATE INDEX survey_eligible_unit ON survey_eligible (round_id, unit_code);

-- The engine's ConversationState JSON (daemon/survey/engine.h), written after every message.
CREATE TABLE survey_conversation (
  channel     TEXT    NOT NULL,
  user_id     TEXT    NOT NULL,
  round_id    INTEGER NOT NULL REFERENCES survey_round (id),
  state       TEXT    NOT NULL,
  created_ms  INTEGER NOT NULL,
  updated_ms  INTEGER NOT NULL,
  PRIMARY KEY (channel, user_id, round_id)
) WITHOUT ROWID;

-- respondent_key: the child id when matched, else 'unmatched:<channel>:<user>:<birth date>'.
CREATE TABLE survey_response (
  id              INTEGER PRIMARY KEY,
  round_id        INTEGER NOT NULL REFERENCES survey_round (id),
  respondent_key  TEXT    NOT NULL,
  child_id        TEXT    NOT NULL DEFAULT '',  -- '' when unmatched
  unit_code       TEXT    NOT NULL DEFAULT '',
  birth_date      TEXT    NOT NULL,
  channel         TEXT    NOT NULL,
  user_id         TEXT    NOT NULL,
  interview_date  TEXT    NOT NULL,
  age_months      INTEGER NOT NULL,
  recall_shifted  INTEGER NOT NULL DEFAULT 0,
  answers         TEXT    NOT NULL,             -- JSON: question id -> answer
  revision        INTEGER NOT NULL DEFAULT 1,
  created_ms      INTEGER NOT NULL,
  updated_ms      INTEGER NOT NULL,
  UNIQUE (round_id, respondent_key)
);
CREATE INDEX survey_response_child ON survey_response (round_id, child_id);

CREATE TABLE survey_response_history (
  id              INTEGER PRIMARY KEY,
  response_id     INTEGER NOT NULL REFERENCES survey_response (id),
  revision        INTEGER NOT NULL,
  channel         TEXT    NOT NULL,
  user_id         TEXT    NOT NULL,
  interview_date  TEXT    NOT NULL,
  age_months      INTEGER NOT NULL,
  recall_shifted  INTEGER NOT NULL,
  answers         TEXT    NOT NULL,
  saved_ms        INTEGER NOT NULL,             -- when that revision was written
  replaced_ms     INTEGER NOT NULL
);
CREATE INDEX survey_response_history_response ON survey_response_history (response_id, revision);
