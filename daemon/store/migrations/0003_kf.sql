-- 0003: 微信客服 (kf). The kf/sync_msg cursor of each kf account, and each parent's send window:
-- a parent's message opens 48 hours in which at most 5 messages may be sent to them (reference
-- §9.4). Times are unix milliseconds (UTC).
CREATE TABLE kf_cursor (
  open_kfid  TEXT    PRIMARY KEY,
  cursor     TEXT    NOT NULL,   -- next_cursor of the last page whose messages are stored
  updated_ms INTEGER NOT NULL
);

-- One row per (kf account, parent) who has written to the account.
CREATE TABLE kf_window (
  open_kfid        TEXT    NOT NULL,
  external_userid  TEXT    NOT NULL,
  last_customer_ms INTEGER NOT NULL,            -- send_time of the parent's newest message
  blocked_ms       INTEGER NOT NULL DEFAULT 0,  -- = last_customer_ms when WeCom refused a send in
                                                -- this window (over 5, past 48 h, session state)
  updated_ms       INTEGER NOT NULL,
  PRIMARY KEY (open_kfid, external_userid)
);

-- Sends counted against a window. A row is written (committed) before send_msg is called, kept
-- when WeCom accepts or the answer is unknown (network), and deleted when WeCom refuses; so a
-- crash can only count a send that did not happen, never miss one that did.
-- window_ms = the window's last_customer_ms when the send was counted.
CREATE TABLE kf_send (
  open_kfid       TEXT    NOT NULL,
  msgid           TEXT    NOT NULL,   -- our send_msg msgid (unique per kf account)
  external_userid TEXT    NOT NULL,
  window_ms       INTEGER NOT NULL,
  reserved_ms     INTEGER NOT NULL,
  accepted_ms     INTEGER NOT NULL DEFAULT 0,  -- when WeCom answered errcode 0
  PRIMARY KEY (open_kfid, msgid)
);

CREATE INDEX kf_send_window ON kf_send (open_kfid, external_userid, window_ms);
