-- Several daemons on one (PostgreSQL) database: each connection is run by
-- the daemon holding its lease. token grows at every takeover and fences
-- writes: a transaction that moves a cursor, writes the snapshot, records
-- an applied op or changes the outbox checks, in the same transaction,
-- that its daemon still holds the lease with that token (lease.go).
-- Times are milliseconds since the epoch by the database's clock, so the
-- daemons' clocks never have to agree.
CREATE TABLE leases (
    connection  TEXT    NOT NULL PRIMARY KEY,
    owner       TEXT    NOT NULL, -- daemons.id
    token       INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL
);

-- The daemons sharing the database, with their heartbeat; a CLI reaches
-- the owner of a connection through control (a unix socket on host).
CREATE TABLE daemons (
    id         TEXT    NOT NULL PRIMARY KEY,
    host       TEXT    NOT NULL,
    pid        INTEGER NOT NULL,
    command    TEXT    NOT NULL,
    control    TEXT    NOT NULL DEFAULT '',
    started_at TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL
);
