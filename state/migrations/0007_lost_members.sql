-- Memberships drift reconcile found gone from the workspace by hand (a
-- member removed from a team, a team or an account deleted there), with
-- the order number they were first applied under (applied_members.seq):
-- when idsync puts one back it keeps that number, so OfficeRnD's primary
-- team ("the first synced Azure group") stays the same through a re-create.
-- A row leaves when the membership is applied again, or when the IdP no
-- longer wants it.
CREATE TABLE applied_members_lost (
    connection TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (connection, group_id, user_id)
);
CREATE INDEX applied_members_lost_user ON applied_members_lost (connection, user_id);
