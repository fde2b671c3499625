-- Records of use kept by the requester (Art. 29 ¶2): one document per record, appended, never changed or deleted
-- (kept at least three years; a further record for a period amends it).
CREATE TABLE use_records (
    id          UUID PRIMARY KEY,
    grant_id    UUID NOT NULL REFERENCES grants (id),
    recorded_at TIMESTAMPTZ NOT NULL,
    document    TEXT NOT NULL
);
CREATE INDEX use_records_grant ON use_records (grant_id, recorded_at);
CREATE FUNCTION use_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'records of use are append-only';
END;
$$;
CREATE TRIGGER use_records_no_change BEFORE UPDATE OR DELETE ON use_records
    FOR EACH ROW EXECUTE FUNCTION use_records_append_only();
CREATE TRIGGER use_records_no_truncate BEFORE TRUNCATE ON use_records
    FOR EACH STATEMENT EXECUTE FUNCTION use_records_append_only();
