-- 0004: the customer-group task route. Parents' groups are customer (external) groups, where WeCom
-- posts only what the group owner confirms: yuer queues posts per group, merges what waits for
-- the same owner into one add_msg_template task, and tracks the task until WeCom reports the
-- result per group. Times are unix milliseconds (UTC); months are Asia/Shanghai calendar months.

-- One message for one customer group. States: queued -> tasked -> sent | failed | expired;
-- queued again when a task could not be created; cancelled from queued by an admin.
CREATE TABLE group_post (
  id              INTEGER PRIMARY KEY,
  chat_id         TEXT    NOT NULL,
  content         TEXT    NOT NULL,            -- plain text, <= 4000 bytes (mass-message text limit)
  idempotency_key TEXT    NOT NULL UNIQUE,
  state           TEXT    NOT NULL DEFAULT 'queued',
  task_id         INTEGER NOT NULL DEFAULT 0,  -- group_task.id once tasked
  not_before_ms   INTEGER NOT NULL DEFAULT 0,  -- waits until then (monthly quota used up, retry)
  expire_at_ms    INTEGER NOT NULL DEFAULT 0,  -- 0: never expires
  created_ms      INTEGER NOT NULL,
  updated_ms      INTEGER NOT NULL,
  sent_ms         INTEGER NOT NULL DEFAULT 0,
  reason          TEXT    NOT NULL DEFAULT ''  -- Chinese, for admins: why it waits or failed
);
CREATE INDEX group_post_open ON group_post (state, id);
CREATE INDEX group_post_task ON group_post (task_id) WHERE task_id <> 0;

-- One add_msg_template task: one owner (sender), one text, the groups it goes to. States:
-- creating (row written, WeCom not yet answered) -> waiting (msgid known, owner must confirm)
-- -> done | cancelled | failed.
CREATE TABLE group_task (
  id              INTEGER PRIMARY KEY,
  owner           TEXT    NOT NULL,            -- the groups' owner userid (the sender)
  content         TEXT    NOT NULL,
  month           TEXT    NOT NULL,            -- 'YYYY-MM' (Asia/Shanghai) the quota is counted in
  state           TEXT    NOT NULL DEFAULT 'creating',
  msgid           TEXT    NOT NULL DEFAULT '',
  created_ms      INTEGER NOT NULL,
  updated_ms      INTEGER NOT NULL,
  next_check_ms   INTEGER NOT NULL DEFAULT 0,
  reminds         INTEGER NOT NULL DEFAULT 0,  -- reminders sent (remind_groupmsg_send)
  last_remind_ms  INTEGER NOT NULL DEFAULT 0,
  done_ms         INTEGER NOT NULL DEFAULT 0,
  reason          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX group_task_open ON group_task (state, id);

-- The groups of a task and WeCom's result for each: '' (not known yet), 'sent', 'failed'
-- (status 2), 'over_quota' (status 3: the group's monthly receiving cap was reached).
CREATE TABLE group_task_chat (
  task_id  INTEGER NOT NULL,
  chat_id  TEXT    NOT NULL,
  result   TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (task_id, chat_id)
) WITHOUT ROWID;
CREATE INDEX group_task_chat_by_chat ON group_task_chat (chat_id, task_id);
