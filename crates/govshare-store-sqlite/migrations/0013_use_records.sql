-- Records of use kept by the requester (Art. 29 ¶2): one document per record, appended, never changed or deleted
-- (kept at least three years; a further record for a period amends it).
CREATE TABLE use_records (
    id          TEXT PRIMARY KEY,
    grant_id    TEXT NOT NULL REFERENCES grants (id),
    recorded_at INTEGER NOT NULL,
    document    TEXT NOT NULL
);
CREATE INDEX use_records_grant ON use_records (grant_id, recorded_at);
CREATE TRIGGER use_records_no_update BEFORE UPDATE ON use_records
BEGIN SELECT RAISE(ABORT, 'records of use are append-only'); END;
CREATE TRIGGER use_records_no_delete BEFORE DELETE ON use_records
BEGIN SELECT RAISE(ABORT, 'records of use are append-only'); END;
