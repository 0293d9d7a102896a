-- Push mode (source.type: scim): what the IdP pushed to the SCIM listener,
-- as the listener serves it back, per connection. The connection's
-- snapshot (source_users, source_groups, source_members) is written in the
-- same transaction as each row here; this table keeps what the snapshot
-- has no column for (the resource as sent, its version and dates).
CREATE TABLE scim_resources (
    connection    TEXT    NOT NULL,
    kind          TEXT    NOT NULL, -- User | Group
    id            TEXT    NOT NULL, -- assigned by the listener, never changes
    user_name     TEXT    NOT NULL DEFAULT '', -- as sent (users)
    -- userName lower-cased by idsync (RFC 7643: caseExact false), unique
    -- per connection among users; '' for groups.
    user_name_key TEXT    NOT NULL DEFAULT '',
    external_id   TEXT    NOT NULL DEFAULT '', -- not unique (RFC 7643)
    attrs         TEXT    NOT NULL, -- the resource's JSON without id and meta
    version       INTEGER NOT NULL,
    created_at    TEXT    NOT NULL,
    modified_at   TEXT    NOT NULL,
    PRIMARY KEY (connection, kind, id)
);
CREATE UNIQUE INDEX scim_resources_user_name ON scim_resources (connection, user_name_key) WHERE kind = 'User';

-- Bearer tokens of the SCIM listener (0001 made the table): id is the
-- token's name, hash its SHA-256 (hex); the token itself is never stored.
-- Times are RFC 3339; '' is never (last use, expiry) or not revoked.
ALTER TABLE scim_tokens ADD COLUMN last_used_at TEXT NOT NULL DEFAULT '';
ALTER TABLE scim_tokens ADD COLUMN expires_at TEXT NOT NULL DEFAULT '';
ALTER TABLE scim_tokens ADD COLUMN revoked_at TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX scim_tokens_hash ON scim_tokens (hash);
