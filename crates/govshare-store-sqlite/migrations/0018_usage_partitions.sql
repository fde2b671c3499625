-- Usage records at national scale (Art. 29, R-DEL-5): every row names the month (Beijing time) of its batch's
-- earliest record, as on PostgreSQL, where it is the partition key. SQLite has no partitions: an archived month's
-- rows stay in the database (the embedded store keeps every usage record), but its archive is written and recorded
-- the same way.
ALTER TABLE usage_records ADD COLUMN month TEXT NOT NULL DEFAULT '';
DROP TRIGGER usage_records_no_update;
UPDATE usage_records
SET month = batch.month
FROM (SELECT seal_id, strftime('%Y-%m-01', MIN(at) / 1000000 + 8 * 3600, 'unixepoch') AS month
      FROM usage_records GROUP BY seal_id) AS batch
WHERE usage_records.seal_id IS batch.seal_id;
CREATE TRIGGER usage_records_no_update BEFORE UPDATE ON usage_records
BEGIN SELECT RAISE(ABORT, 'usage records are append-only'); END;
CREATE INDEX usage_month ON usage_records (month, seal_id, seal_position);

CREATE TABLE usage_archives (
    month       TEXT PRIMARY KEY NOT NULL,
    file        TEXT NOT NULL,
    records     INTEGER NOT NULL,
    batches     INTEGER NOT NULL,
    link        TEXT NOT NULL,
    previous    TEXT,
    file_sm3    TEXT NOT NULL,
    archived_at INTEGER NOT NULL,
    detached_at INTEGER
);
CREATE TABLE usage_archived_batches (
    batch_id TEXT PRIMARY KEY NOT NULL,
    month    TEXT NOT NULL,
    records  INTEGER NOT NULL
);
CREATE INDEX usage_archived_month ON usage_archived_batches (month, batch_id);
