-- 0008: scheduled pushes (issue 6). A schedule's definition is kept as the JSON the admin API shows
-- (daemon/scheduler/schedule.h parses it); the store only keeps it, its state and its watermark.
-- Times are unix milliseconds (UTC).

-- One schedule. source: 'config' (from yuerd.toml, re-read at every start) | 'api'.
-- watermark_ms: the last NOMINAL occurrence handled (sent, skipped or found empty); occurrences after it
-- are due. last_at_ms: the last occurrence's actual time (after the quiet-hours shift).
CREATE TABLE schedule (
  id            TEXT    PRIMARY KEY,
  name          TEXT    NOT NULL,
  state         TEXT    NOT NULL DEFAULT 'active',   -- 'active' | 'paused'
  spec          TEXT    NOT NULL,                    -- JSON definition
  source        TEXT    NOT NULL DEFAULT 'api',
  watermark_ms  INTEGER NOT NULL DEFAULT 0,
  last_at_ms    INTEGER NOT NULL DEFAULT 0,
  created_ms    INTEGER NOT NULL,
  updated_ms    INTEGER NOT NULL
) WITHOUT ROWID;

-- One push of one occurrence to one target (a group's chat or a kf parent): the lesson chosen, committed
-- ('planned') together with the schedule's watermark BEFORE it is handed to the outbox, then 'enqueued'
-- with the outbox row. A lesson planned or enqueued for a target is never chosen for it again.
-- target: the group's chat_group id as 'g:<id>' or 'kf:<child_id>'; idempotency_key is the outbox key.
CREATE TABLE schedule_push (
  id               INTEGER PRIMARY KEY,
  schedule_id      TEXT    NOT NULL,
  at_ms            INTEGER NOT NULL,
  local_date       TEXT    NOT NULL,                -- YYYY-MM-DD in time.zone (quota per day)
  target           TEXT    NOT NULL,
  chat_id          TEXT    NOT NULL DEFAULT '',
  unit_code        TEXT    NOT NULL DEFAULT '',
  route            TEXT    NOT NULL,
  address          TEXT    NOT NULL,                -- the outbox target (robot name, chat id, kf pair)
  lesson_id        TEXT    NOT NULL DEFAULT '',
  band             INTEGER NOT NULL DEFAULT -1,     -- month of life the group's pick served (-1: none)
  state            TEXT    NOT NULL,                -- 'planned' | 'enqueued' | 'failed'
  reason           TEXT    NOT NULL DEFAULT '',
  outbox_id        INTEGER NOT NULL DEFAULT 0,
  idempotency_key  TEXT    NOT NULL UNIQUE,
  created_ms       INTEGER NOT NULL,
  updated_ms       INTEGER NOT NULL
);
CREATE INDEX schedule_push_target ON schedule_push (target, at_ms);
CREATE INDEX schedule_push_at ON schedule_push (at_ms);
CREATE INDEX schedule_push_state ON schedule_push (state) WHERE state = 'planned';

-- One line per occurrence handled: 'done' (pushes planned), 'skipped' (older than the catch-up window
-- after downtime, or paused), 'empty' (nobody to send to).
CREATE TABLE schedule_occurrence (
  schedule_id  TEXT    NOT NULL,
  nominal_ms   INTEGER NOT NULL,
  at_ms        INTEGER NOT NULL,
  state        TEXT    NOT NULL,
  pushes       INTEGER NOT NULL DEFAULT 0,
  reason       TEXT    NOT NULL DEFAULT '',
  logged_ms    INTEGER NOT NULL,
  PRIMARY KEY (schedule_id, nominal_ms)
) WITHOUT ROWID;
