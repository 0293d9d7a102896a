-- Approvals are bound to a plan: a held plan carries its id (idsync.Plan.ID),
-- and `idsync approve --plan ID` refuses when the held plan has changed.
-- Plans held before this migration get '' and have their id computed on read.
ALTER TABLE held_plans ADD COLUMN plan_id TEXT NOT NULL DEFAULT '';

-- The fingerprint of each connection's effective policy (scope, roles,
-- deprovision, groups, target shape) as of its last enqueued plan: when the
-- config changes it, the next run evaluates every user.
CREATE TABLE policy_fingerprints (
    connection  TEXT NOT NULL PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
