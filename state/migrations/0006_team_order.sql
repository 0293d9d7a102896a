-- The order in which each user's group memberships were first applied.
-- OfficeRnD makes "The first synced Azure group" a person's primary team, so
-- the order idsync applied memberships in is recorded and never recomputed:
-- seq grows with every recorded member-add of a connection, and a membership
-- applied again keeps its seq. Memberships applied before this migration
-- keep 0: their order was not recorded (they sort by group id, before any
-- later one).
ALTER TABLE applied_members ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX applied_members_seq ON applied_members (connection, seq);

-- The description last applied to a group, for workspaces that take one
-- (OfficeRnD teams' optional description).
ALTER TABLE applied_groups ADD COLUMN description TEXT NOT NULL DEFAULT '';
