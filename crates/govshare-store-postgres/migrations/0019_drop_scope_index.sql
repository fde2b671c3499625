-- The index on (entry_id, scope, key) served no query: row scopes are prefix conditions on scope, which neither
-- backend can answer from it (the query API scans by key, the change feed by seq, and filters the scope). It cost
-- more than the primary key on every load (7 of 12 seconds for 1M new records on PostgreSQL, measured).
DROP INDEX source_records_scope;
