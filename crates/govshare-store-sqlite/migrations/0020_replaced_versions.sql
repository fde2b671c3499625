-- The change history keeps only versions that a later load or correction replaced; the current version of each
-- record lives in source_records alone, which now names the load or correction that wrote it (written_by). A
-- record's history is its rows here (by key, in seq order) followed by its row in source_records; a version whose
-- payload is NULL is a deletion. A first load therefore writes no history at all (it had copied every new record's
-- ciphertext a second time, written by the load and read by nobody). `op` goes: insert, update and delete follow
-- from the order of a key's versions and the NULL payload.
-- (SQLite cannot add a NOT NULL column without a default; the nil UUID stands for "no writer known", which no
-- record has after the backfill below, and every write sets the column.)
ALTER TABLE source_records ADD COLUMN written_by TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000';
UPDATE source_records SET written_by = (
  SELECT c.load_id FROM source_changes c WHERE c.entry_id = source_records.entry_id AND c.seq = source_records.seq)
  WHERE EXISTS (
  SELECT 1 FROM source_changes c WHERE c.entry_id = source_records.entry_id AND c.seq = source_records.seq);
DELETE FROM source_changes WHERE EXISTS (
  SELECT 1 FROM source_records r WHERE r.entry_id = source_changes.entry_id AND r.seq = source_changes.seq);
ALTER TABLE source_changes DROP COLUMN op;
CREATE INDEX source_changes_key ON source_changes (entry_id, key, seq);
