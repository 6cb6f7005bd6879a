-- 0006: the programme's WeCom groups, their members and the township join ways.
-- Management groups (staff; city, county or township) are reached by a group robot or an app chat;
-- parent groups (家长群, township) are WeCom customer groups kept under the member caps. Times are
-- unix milliseconds (UTC).

-- One group. kind: 'management' | 'parent'. state (parent groups): 'open' (room), 'warned' (at the
-- soft cap), 'closed' (at the hard cap: no new families), 'dismissed' (gone from WeCom).
CREATE TABLE chat_group (
  id              INTEGER PRIMARY KEY,
  kind            TEXT    NOT NULL,
  unit_code       TEXT    NOT NULL,             -- 12-digit org unit (township for parent groups)
  name            TEXT    NOT NULL,
  chat_id         TEXT    NOT NULL DEFAULT '',  -- customer group chat id, or the app chat id
  route           TEXT    NOT NULL,             -- 'robot' | 'appchat' | 'group_task'
  robot           TEXT    NOT NULL DEFAULT '',  -- robot name in [wecom.robots] keys_file (never the key)
  owner           TEXT    NOT NULL DEFAULT '',  -- owner's userid (parent groups: the coordinator)
  soft_cap        INTEGER NOT NULL DEFAULT 0,   -- 0: the programme's [groups] soft_cap
  hard_cap        INTEGER NOT NULL DEFAULT 0,   -- 0: the programme's [groups] hard_cap
  members         INTEGER NOT NULL DEFAULT 0,   -- last count read from groupchat/get
  member_version  TEXT    NOT NULL DEFAULT '',  -- its member_version
  state           TEXT    NOT NULL DEFAULT 'open',
  synced_ms       INTEGER NOT NULL DEFAULT 0,   -- when the members were last read (0: never)
  created_ms      INTEGER NOT NULL,
  updated_ms      INTEGER NOT NULL
);
CREATE UNIQUE INDEX chat_group_chat ON chat_group (chat_id) WHERE chat_id <> '';
CREATE INDEX chat_group_unit ON chat_group (unit_code, kind);

-- Members of parent groups as groupchat/get last listed them. state: the join way's state a parent
-- scanned (it names the township); type 1 = staff member, 2 = external contact (parent).
CREATE TABLE group_member (
  chat_id    TEXT    NOT NULL,
  userid     TEXT    NOT NULL,
  type       INTEGER NOT NULL,
  join_time  INTEGER NOT NULL DEFAULT 0,
  state      TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (chat_id, userid)
) WITHOUT ROWID;
CREATE INDEX group_member_user ON group_member (userid);

-- One 「加入群聊」 join way per township: the QR coordinators share. chat_ids: the groups it lists
-- (';'-joined, at most 5). asked_ms: when the coordinator was last asked to create a group.
CREATE TABLE join_way (
  unit_code   TEXT    PRIMARY KEY,
  config_id   TEXT    NOT NULL,
  state       TEXT    NOT NULL,
  qr_code     TEXT    NOT NULL DEFAULT '',
  chat_ids    TEXT    NOT NULL DEFAULT '',
  asked_ms    INTEGER NOT NULL DEFAULT 0,
  updated_ms  INTEGER NOT NULL
) WITHOUT ROWID;

-- What needs a person: a group above its hard cap, a township without room.
CREATE TABLE group_alert (
  id          INTEGER PRIMARY KEY,
  chat_id     TEXT    NOT NULL DEFAULT '',
  unit_code   TEXT    NOT NULL DEFAULT '',
  kind        TEXT    NOT NULL,                 -- 'over_hard_cap' | 'no_room'
  members     INTEGER NOT NULL DEFAULT 0,
  created_ms  INTEGER NOT NULL
);
