-- Every row carries its connection: one database serves every connection.
-- SQL here stays portable (no SQLite-only syntax) so a PostgreSQL store can follow.

-- The source's resume point, saved only with a completed pull, and the
-- generation counter (bumped at every pull) used for mark-and-sweep.
CREATE TABLE cursors (
    connection   TEXT    NOT NULL PRIMARY KEY,
    cursor       TEXT    NOT NULL,
    generation   INTEGER NOT NULL,
    updated_at   TEXT    NOT NULL,
    full_at      TEXT    NOT NULL DEFAULT ''
);

-- The last-known directory. generation is the pull that last saw the row.
CREATE TABLE source_users (
    connection TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    -- idsync.User's fields as columns: a full evaluation reads every row,
    -- and decoding columns is several times cheaper than JSON.
    user_name    TEXT    NOT NULL,
    email        TEXT    NOT NULL,
    given_name   TEXT    NOT NULL,
    family_name  TEXT    NOT NULL,
    display_name TEXT    NOT NULL,
    employee_id  TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    department   TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    removed      TEXT    NOT NULL DEFAULT '',
    generation INTEGER NOT NULL,
    PRIMARY KEY (connection, id)
);

CREATE TABLE source_groups (
    connection  TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    generation  INTEGER NOT NULL,
    PRIMARY KEY (connection, id)
);

-- Direct memberships only; transitive closure is computed by the engine.
CREATE TABLE source_members (
    connection  TEXT    NOT NULL,
    group_id    TEXT    NOT NULL,
    member_id   TEXT    NOT NULL,
    member_kind TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    PRIMARY KEY (connection, group_id, member_id)
);
CREATE INDEX source_members_member ON source_members (connection, member_id, group_id);
-- Covers the full-evaluation scan of user memberships and the nested-group edges.
CREATE INDEX source_members_kind ON source_members (connection, member_kind, group_id, member_id);

CREATE TABLE source_assignments (
    connection     TEXT    NOT NULL,
    principal_id   TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    principal_kind TEXT    NOT NULL,
    generation     INTEGER NOT NULL,
    PRIMARY KEY (connection, principal_id, role)
);

-- Users and groups whose desired state may have changed since the last plan.
CREATE TABLE dirty_users (
    connection TEXT NOT NULL,
    id         TEXT NOT NULL,
    PRIMARY KEY (connection, id)
);
CREATE TABLE dirty_groups (
    connection TEXT NOT NULL,
    id         TEXT NOT NULL,
    PRIMARY KEY (connection, id)
);

-- What idsync last successfully applied to the target, with the target's id.
CREATE TABLE applied_users (
    connection TEXT NOT NULL,
    id           TEXT    NOT NULL,
    target_id    TEXT    NOT NULL,
    user_name    TEXT    NOT NULL,
    email        TEXT    NOT NULL,
    given_name   TEXT    NOT NULL,
    family_name  TEXT    NOT NULL,
    display_name TEXT    NOT NULL,
    employee_id  TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    department   TEXT    NOT NULL,
    active       INTEGER NOT NULL,
    role         TEXT    NOT NULL,
    PRIMARY KEY (connection, id)
);
CREATE TABLE applied_groups (
    connection TEXT NOT NULL,
    id         TEXT NOT NULL,
    target_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    PRIMARY KEY (connection, id)
);
CREATE TABLE applied_members (
    connection TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    PRIMARY KEY (connection, group_id, user_id)
);
CREATE INDEX applied_members_user ON applied_members (connection, user_id);

-- Planned ops not yet applied; resumed first after a crash.
CREATE TABLE outbox (
    connection TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    run_id     INTEGER NOT NULL,
    op         TEXT    NOT NULL, -- idsync.Op as JSON
    PRIMARY KEY (connection, seq)
);

CREATE TABLE held_plans (
    connection TEXT    NOT NULL PRIMARY KEY,
    run_id     INTEGER NOT NULL,
    held_at    TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    plan       TEXT    NOT NULL -- idsync.Plan as JSON
);

-- The provisioning log.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    connection  TEXT    NOT NULL,
    kind        TEXT    NOT NULL, -- incremental | full | approve
    started_at  TEXT    NOT NULL,
    finished_at TEXT    NOT NULL DEFAULT '',
    result      TEXT    NOT NULL DEFAULT 'running', -- running | ok | failed | held | partial
    error       TEXT    NOT NULL DEFAULT '',
    planned     INTEGER NOT NULL DEFAULT 0,
    applied     INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_connection ON runs (connection, id);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     INTEGER NOT NULL,
    connection TEXT    NOT NULL,
    at         TEXT    NOT NULL,
    kind       TEXT    NOT NULL, -- op kind
    object_id  TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    result     TEXT    NOT NULL, -- applied | failed
    detail     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_connection ON events (connection, id);
CREATE INDEX events_object ON events (connection, object_id);

-- SCIM push listener bearer tokens, stored hashed.
CREATE TABLE scim_tokens (
    connection TEXT NOT NULL,
    id         TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (connection, id)
);
