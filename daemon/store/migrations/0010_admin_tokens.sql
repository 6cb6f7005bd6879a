-- 0008: scoped admin tokens and the audit log (daemon/admin/access.h). A token is kept only as the
-- SHA-256 of its secret, bound to a role and a unit (12-digit division code). The audit log has one
-- row per non-GET /api/v1 request and per export download: who (token name, role, unit), what
-- (method, path, query), when, the answer's status and, where the handler gave them, the state
-- before and after. Times are unix milliseconds (UTC).

CREATE TABLE admin_token (
  id           INTEGER PRIMARY KEY,
  name         TEXT    NOT NULL UNIQUE,
  role         TEXT    NOT NULL,              -- province_admin | city_admin | county_admin | township_coordinator | viewer
  unit_code    TEXT    NOT NULL,              -- 12 digits
  secret_hash  TEXT    NOT NULL UNIQUE,       -- lower-case hex SHA-256 of the secret
  created_by   TEXT    NOT NULL,
  created_ms   INTEGER NOT NULL,
  revoked_ms   INTEGER NOT NULL DEFAULT 0     -- 0: valid
);

CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY,
  at_ms       INTEGER NOT NULL,
  actor       TEXT    NOT NULL,               -- token name ('admin' for the bootstrap token)
  role        TEXT    NOT NULL,
  actor_unit  TEXT    NOT NULL,               -- '' for the bootstrap token
  unit        TEXT    NOT NULL,               -- the unit the request concerned ('' when none)
  method      TEXT    NOT NULL,
  path        TEXT    NOT NULL,
  query       TEXT    NOT NULL,
  status      INTEGER NOT NULL,
  before_json TEXT    NOT NULL DEFAULT '',
  after_json  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_unit ON audit_log (unit, id);
