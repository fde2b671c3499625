-- Usage records join the audit chain (R-SEC-1). Each group-commit batch is sealed by one `usage.seal` audit record
-- (count and SM3 Merkle root over the rows' documents) whose object id is the batch id every row of the batch
-- carries, with the row's position in the batch.
ALTER TABLE usage_records ADD COLUMN seal_id UUID, ADD COLUMN seal_position BIGINT;

-- The records kept before seals existed become one batch with the nil id, in the order they were written. The
-- store seals that batch right after applying this migration, once (PgStore::migrate).
ALTER TABLE usage_records DISABLE TRIGGER usage_records_no_change;
UPDATE usage_records
SET seal_id = '00000000-0000-0000-0000-000000000000', seal_position = numbered.position
FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY at, id) - 1 AS position FROM usage_records) AS numbered
WHERE usage_records.id = numbered.id;
ALTER TABLE usage_records ENABLE TRIGGER usage_records_no_change;

CREATE INDEX usage_seal ON usage_records (seal_id, seal_position);
-- Evidence export finds a batch's seal by its object id.
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);

-- Row triggers never see TRUNCATE; statement triggers do.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER usage_records_no_truncate BEFORE TRUNCATE ON usage_records
    FOR EACH STATEMENT EXECUTE FUNCTION usage_records_append_only();
