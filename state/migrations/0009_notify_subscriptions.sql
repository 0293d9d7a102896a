-- Change-notification channels the daemon owns (issue 14): Microsoft Graph
-- subscriptions on users and groups, and Okta event hooks. secret_hash is
-- the SHA-256 (hex) of the subscription's clientState or the hook's
-- Authorization secret: idsync only ever compares what arrives with it, so
-- the secret itself is never stored. expires_at is '' for what does not
-- expire (an Okta hook). url is where the IdP delivers (a changed
-- notify.public_url makes the daemon subscribe again).
CREATE TABLE notify_subscriptions (
    connection  TEXT NOT NULL,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    resource    TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    expires_at  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    renewed_at  TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT '',
    url         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (connection, id)
);

-- Connections whose notifications were turned off with `idsync notify off`:
-- the daemon creates no subscription for them until `idsync notify on`.
CREATE TABLE notify_off (
    connection TEXT NOT NULL PRIMARY KEY,
    off_at     TEXT NOT NULL
);
