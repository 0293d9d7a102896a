-- One workspace object belongs to one IdP object: a target id is recorded
-- for at most one applied user, and one applied group, per connection.
--
-- A database written before this rule may hold a target id recorded for two
-- users (a create that adopted another person's account by userName). Which
-- of them owns the account cannot be told from here, and opening must not
-- fail, so for every such id: each pair is reported in the provisioning log
-- (idsync log, idsync explain), the rows are forgotten with their memberships,
-- and the users are marked dirty. The next run plans a create for each, and a
-- create adopts only the account carrying its own externalId (or a free
-- userName): the owner gets its account back, the other one its own account
-- or a clear conflict. Nobody acts on the shared account by id meanwhile.
-- Rows without a target id ('') are not constrained.

INSERT INTO events (run_id, connection, at, kind, object_id, name, result, detail)
SELECT 0, a.connection, REPLACE(CURRENT_TIMESTAMP, ' ', 'T') || 'Z', 'migration', a.id, a.user_name, 'failed',
       'workspace account ' || a.target_id || ' was recorded for both ' || a.user_name || ' (' || a.id || ') and ' ||
       b.user_name || ' (' || b.id || '); idsync forgot it for both and re-adopts each user by externalId on the next run'
FROM applied_users a
JOIN applied_users b ON b.connection = a.connection AND b.target_id = a.target_id AND b.id <> a.id
WHERE a.target_id <> '';

INSERT INTO dirty_users (connection, id)
SELECT DISTINCT a.connection, a.id
FROM applied_users a
JOIN applied_users b ON b.connection = a.connection AND b.target_id = a.target_id AND b.id <> a.id
WHERE a.target_id <> ''
ON CONFLICT DO NOTHING;

DELETE FROM applied_members
WHERE EXISTS (SELECT 1 FROM applied_users a JOIN applied_users b ON b.connection = a.connection AND b.target_id = a.target_id AND b.id <> a.id
              WHERE a.target_id <> '' AND a.connection = applied_members.connection AND a.id = applied_members.user_id);

DELETE FROM applied_users
WHERE target_id <> ''
  AND EXISTS (SELECT 1 FROM applied_users b
              WHERE b.connection = applied_users.connection AND b.target_id = applied_users.target_id AND b.id <> applied_users.id);

CREATE UNIQUE INDEX applied_users_target ON applied_users (connection, target_id) WHERE target_id <> '';

INSERT INTO events (run_id, connection, at, kind, object_id, name, result, detail)
SELECT 0, a.connection, REPLACE(CURRENT_TIMESTAMP, ' ', 'T') || 'Z', 'migration', a.id, a.name, 'failed',
       'workspace group ' || a.target_id || ' was recorded for both ' || a.name || ' (' || a.id || ') and ' ||
       b.name || ' (' || b.id || '); idsync forgot it for both and re-adopts each group by externalId on the next run'
FROM applied_groups a
JOIN applied_groups b ON b.connection = a.connection AND b.target_id = a.target_id AND b.id <> a.id
WHERE a.target_id <> '';

INSERT INTO dirty_groups (connection, id)
SELECT DISTINCT a.connection, a.id
FROM applied_groups a
JOIN applied_groups b ON b.connection = a.connection AND b.target_id = a.target_id AND b.id <> a.id
WHERE a.target_id <> ''
ON CONFLICT DO NOTHING;

DELETE FROM applied_members
WHERE EXISTS (SELECT 1 FROM applied_groups a JOIN applied_groups b ON b.connection = a.connection AND b.target_id = a.target_id AND b.id <> a.id
              WHERE a.target_id <> '' AND a.connection = applied_members.connection AND a.id = applied_members.group_id);

DELETE FROM applied_groups
WHERE target_id <> ''
  AND EXISTS (SELECT 1 FROM applied_groups b
              WHERE b.connection = applied_groups.connection AND b.target_id = applied_groups.target_id AND b.id <> applied_groups.id);

CREATE UNIQUE INDEX applied_groups_target ON applied_groups (connection, target_id) WHERE target_id <> '';
