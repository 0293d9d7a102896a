-- The status page charts each connection's last runs by op kind: count a
-- run's events from this index alone, without reading the log itself.
CREATE INDEX events_run ON events (connection, run_id, kind, result);

-- The status page and `idsync status` show each connection's last
-- workspace listing (the latest event of kind 'reconcile'): found at once,
-- not by reading the log back from its end.
CREATE INDEX events_kind ON events (connection, kind, id);
