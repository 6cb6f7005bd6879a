-- 0002: the outbox. One row per message part to deliver through a route (robot, app, appchat, ...).
-- States: queued -> sending -> sent | failed | expired; queued again after a transient failure;
-- cancelled from queued by an admin. A sent row never changes again (enforced by the store).
-- Times are unix milliseconds (UTC).
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  route           TEXT    NOT NULL,
  target          TEXT    NOT NULL,
  kind            TEXT    NOT NULL,            -- text | markdown
  content         TEXT    NOT NULL,
  idempotency_key TEXT    NOT NULL UNIQUE,
  part            INTEGER NOT NULL DEFAULT 1,
  parts           INTEGER NOT NULL DEFAULT 1,
  state           TEXT    NOT NULL DEFAULT 'queued',
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  expire_at_ms    INTEGER NOT NULL DEFAULT 0,  -- 0: never expires
  created_ms      INTEGER NOT NULL,
  updated_ms      INTEGER NOT NULL,
  sent_ms         INTEGER NOT NULL DEFAULT 0,
  last_errcode    INTEGER NOT NULL DEFAULT 0,
  last_reason     TEXT    NOT NULL DEFAULT '',
  remote_id       TEXT    NOT NULL DEFAULT '', -- WeCom's msgid when returned
  resends         INTEGER NOT NULL DEFAULT 0   -- times found in `sending` after a crash and sent again
);

-- Open rows per route in id order (dispatcher load, admin listing, metrics).
CREATE INDEX outbox_open ON outbox (state, route, id);

-- Recent sends at start-up (rate windows survive a restart).
CREATE INDEX outbox_sent ON outbox (sent_ms) WHERE state = 'sent';
