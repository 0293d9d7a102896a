-- The status page charts each connection's last runs by op kind: count a
-- run's events from this index alone, without reading the log itself.
CREATE INDEX events_run ON events (connection, run_id, kind, result);
